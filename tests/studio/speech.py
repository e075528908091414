"""Speech made on the fly with Debian voices (voice_model.roster), encoded as upload bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.studio.audio_files import encode
from voice_model.roster import ROSTER, TRAIN_SENTENCES, render

SR = 16000


def speech(speaker: str, sentences: int, cache: Path, *, start: int = 0) -> bytes:
    voice = next(s for s in ROSTER if s.name == speaker)
    parts = [
        render(voice, text, sample_rate=SR, cache_dir=cache)
        for text in TRAIN_SENTENCES[start : start + sentences]
    ]
    return encode(np.concatenate(parts).astype(np.float32), sr=SR)
