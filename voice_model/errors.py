"""Errors raised by ``voice_model``: one base class, one subclass per kind of unusable input.

Every error carries a stable machine-readable ``code`` (the API puts it in
``{"error": {"code", "message", "detail"}}``), a human ``message`` and a ``detail`` dict
with the offending values (seconds, Hz, dBFS, frame counts), so callers never parse
message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class VoiceModelError(Exception):
    """Base of every error ``voice_model`` raises on purpose."""

    code: ClassVar[str] = "voice_model_error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = detail

    def to_dict(self) -> dict[str, Any]:
        """The error as the API's ``{"code", "message", "detail"}`` body."""
        return {"code": self.code, "message": self.message, "detail": dict(self.detail)}


class AudioError(VoiceModelError, ValueError):
    """The audio given to us cannot be used; the caller's input is at fault, not our code."""

    code: ClassVar[str] = "audio_invalid"


class UnreadableAudio(AudioError):
    """Not audio, a format we cannot decode, corrupt, truncated, or absurd header values."""

    code: ClassVar[str] = "audio_unreadable"


class AudioTooShort(AudioError):
    """Shorter than the minimum the operation needs (``detail``: duration_s, min_duration_s)."""

    code: ClassVar[str] = "audio_too_short"


class AudioTooLong(AudioError):
    """Longer than allowed (``detail``: duration_s, max_duration_s)."""

    code: ClassVar[str] = "audio_too_long"


class SilentAudio(AudioError):
    """Peak level below the silence threshold (``detail``: peak_dbfs, silence_dbfs)."""

    code: ClassVar[str] = "audio_silent"


class NonFiniteAudio(AudioError):
    """Contains NaN or infinite samples (float files only)."""

    code: ClassVar[str] = "audio_non_finite"


class ClippedAudio(AudioError):
    """Too many samples at full scale to learn a voice from (``detail``: clipped_fraction)."""

    code: ClassVar[str] = "audio_clipped"


class ModelError(VoiceModelError):
    """A model artifact is missing, of an unknown version, or fails its hash check."""

    code: ClassVar[str] = "model_invalid"


class ModelTampered(ModelError):
    """The artifact's content does not match the sha256 it is addressed by."""

    code: ClassVar[str] = "model_tampered"


class ModelVersionUnsupported(ModelError):
    """The artifact's card declares a format version this code cannot read."""

    code: ClassVar[str] = "model_version_unsupported"
