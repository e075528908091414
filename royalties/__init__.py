"""Timbre royalties package."""
