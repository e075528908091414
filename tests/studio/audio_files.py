"""Small audio files made on the fly for upload tests (nothing is committed)."""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf

SR = 16000


def tone(
    seconds: float = 1.0, *, sr: int = SR, freq: float = 220.0, amp: float = 0.3
) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(
    audio: np.ndarray, *, fmt: str = "WAV", subtype: str | None = None, sr: int = SR
) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, audio, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def wav(seconds: float = 1.0, **kw: float) -> bytes:
    return encode(tone(seconds, **kw))  # type: ignore[arg-type]
