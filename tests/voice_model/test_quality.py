"""Small end-to-end regressions: determinism, transpose accuracy, speaker-similarity gain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voice_model.audio import load, save
from voice_model.convert import ConvertOptions, convert_file, make_plan
from voice_model.evaluate import embed, f0_accuracy
from voice_model.model import VoiceModel
from voice_model.neural import DecoderConfig
from voice_model.train import train

MICRO = DecoderConfig(hidden=32, layers=1, steps=15, batch=4, speeds=(1.0,), views_per_speed=1)


def test_training_is_deterministic(voices: object) -> None:
    ref = voices.train["rms"]  # type: ignore[attr-defined]
    a = train([ref], method="neural", device="cpu", decoder_cfg=MICRO)
    b = train([ref], method="neural", device="cpu", decoder_cfg=MICRO)
    assert a.decoder is not None and b.decoder is not None
    for (ka, va), (kb, vb) in zip(
        a.decoder.state_dict().items(), b.decoder.state_dict().items(), strict=True
    ):
        assert ka == kb
        assert np.array_equal(va.numpy(), vb.numpy()), ka
    assert a.index is not None and b.index is not None
    assert np.array_equal(a.index, b.index)


@pytest.mark.parametrize("method", ["baseline", "neural"])
def test_transpose_accuracy_on_sung_melody(
    method: str,
    slt_models: dict[str, Path],
    sung: Callable[..., np.ndarray],
    tmp_path: Path,
) -> None:
    model = replace(VoiceModel.load(slt_models[method], device="cpu"), mode="singing")
    melody = sung([196.0, 220.0, 246.9, 261.6, 246.9, 220.0], note_s=0.4)
    src = save(tmp_path / "melody.wav", melody, model.cfg.sample_rate)
    opts = ConvertOptions(transpose=3.0)
    plan = make_plan(model, src, opts)
    octaves = (plan.pitch.dst_mean - plan.pitch.src_mean) / np.log(2) - 3 / 12
    assert plan.pitch.scale == 1.0
    assert octaves == pytest.approx(round(octaves), abs=1e-9)
    convert_file(model, src, tmp_path / "out.wav", options=opts)
    out = load(tmp_path / "out.wav", sample_rate=model.cfg.sample_rate)
    within, median_cents = f0_accuracy(model, src, out, opts)
    assert within >= 0.9, (within, median_cents)


def test_short_training_raises_speaker_similarity(
    voices: object, slt_models: dict[str, Path], tmp_path: Path
) -> None:
    target_ref = embed(load(voices.train["slt"], sample_rate=16_000), 16_000)  # type: ignore[attr-defined]
    src = voices.test["awb"]  # type: ignore[attr-defined]
    before = float(embed(load(src, sample_rate=16_000), 16_000) @ target_ref)
    for method, path in slt_models.items():
        model = VoiceModel.load(path, device="cpu")
        convert_file(model, src, tmp_path / f"{method}.wav")
        after = float(
            embed(load(tmp_path / f"{method}.wav", sample_rate=16_000), 16_000) @ target_ref
        )
        assert after - before > 0.05, (method, before, after)
