"""Timbre studio package."""
