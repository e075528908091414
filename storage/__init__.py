"""Timbre storage package."""
