"""Timbre contracts package."""
