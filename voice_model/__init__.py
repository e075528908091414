"""Timbre voice_model package."""
