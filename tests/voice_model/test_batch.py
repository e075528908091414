"""Batched inference: several chunks (of one input or of several) rendered in one padded pass
come out as when each is rendered alone; whole files converted together equal converting
each alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from voice_model.audio import load
from voice_model.convert import (
    ConvertOptions,
    ConvertTask,
    _ChunkedStream,
    convert_file,
    convert_files,
    make_plan,
    stream_mono,
)
from voice_model.features import analyze
from voice_model.model import RenderRequest, VoiceModel

LSB = 1.0 / 32768


def _requests(model: VoiceModel, paths: list[Path], opts: ConvertOptions) -> list[RenderRequest]:
    """Every chunk request of each input, as the converter makes them (anchors included)."""
    out: list[RenderRequest] = []
    for path in paths:
        plan = make_plan(model, path, opts)
        stream = _ChunkedStream(
            model,
            stream_mono(path, model.cfg.sample_rate, opts.block_frames),
            plan,
            opts,
            1,
            lambda _b: None,
            lambda _f, _s: None,
        )
        out += [req for _, req in stream.requests()]
    return out


def test_batch_equals_alone_for_chunks_of_different_lengths(
    voices: object, neural_slt: VoiceModel
) -> None:
    opts = ConvertOptions(chunk_s=1.5, overlap_s=0.5, margin_s=0.25)
    reqs = _requests(neural_slt, [voices.test["awb"], voices.test["rms"]], opts)  # type: ignore[attr-defined]
    # per-item controls differ inside one batch
    reqs[1].index_rate, reqs[2].protect, reqs[3].index_rate = 0.0, 0.0, 0.9
    assert len({r.n_samples for r in reqs}) > 1 and len(reqs) >= 6
    alone = [neural_slt.render(**vars(r)) for r in reqs]
    batched = neural_slt.render_batch(reqs)
    assert len(batched) == len(reqs)
    for a, b, r in zip(alone, batched, reqs, strict=True):
        assert b.audio.shape == (r.n_samples,) and b.audio.dtype == np.float32
        peak = float(np.max(np.abs(a.audio)))
        assert peak > 0.01
        np.testing.assert_allclose(b.audio, a.audio, rtol=0, atol=1e-5 * peak)
        assert a.phase is not None and b.phase is not None
        torch.testing.assert_close(b.phase, a.phase, rtol=0, atol=1e-9)
        # the hand-over phase the converter computes without rendering is the rendered one
        track = neural_slt.phase_track(r)
        assert track is not None and torch.equal(track, a.phase)
    # a different item order changes nothing either
    rev = neural_slt.render_batch(reqs[2::-1])[::-1]
    for a, b in zip(batched[:3], rev, strict=True):
        np.testing.assert_allclose(b.audio, a.audio, rtol=0, atol=1e-6)


def test_batched_rendering_is_deterministic(voices: object, neural_slt: VoiceModel) -> None:
    reqs = []
    for name, offset in (("awb", 0), ("rms", 12_345)):
        path = voices.test[name]  # type: ignore[attr-defined]
        x = load(path, sample_rate=neural_slt.cfg.sample_rate)
        feats = analyze(x, neural_slt.cfg)
        plan = make_plan(neural_slt, path, ConvertOptions())
        reqs.append(RenderRequest(feats, plan, x.shape[0], sample_offset=offset))
    first = neural_slt.render_batch(reqs)
    again = neural_slt.render_batch(reqs)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a.audio, b.audio)


def test_baseline_batch_is_the_per_item_rendering(
    voices: object, slt_models: dict[str, Path]
) -> None:
    model = VoiceModel.load(slt_models["baseline"], device="cpu")
    opts = ConvertOptions(chunk_s=2.0, overlap_s=0.5, margin_s=0.25)
    reqs = _requests(model, [voices.test["awb"]], opts)[:3]  # type: ignore[attr-defined]
    batched = model.render_batch(reqs)
    for r, b in zip(reqs, batched, strict=True):
        alone = model.render(**vars(r))
        assert b.audio.shape == alone.audio.shape == (r.n_samples,)
        # WORLD's synthesis draws fresh noise per call: compare levels, not samples
        assert float(np.std(b.audio)) == pytest.approx(float(np.std(alone.audio)), rel=0.05)
    assert model.render_batch([]) == []


def test_convert_files_equals_each_file_alone(
    voices: object, neural_slt: VoiceModel, tmp_path: Path
) -> None:
    opts = ConvertOptions(chunk_s=1.5, overlap_s=0.5, margin_s=0.25)
    names = ("awb", "rms")
    srcs = [voices.test[n] for n in names]  # type: ignore[attr-defined]
    alone = [
        convert_file(neural_slt, src, tmp_path / f"{n}-alone.wav", options=opts)
        for n, src in zip(names, srcs, strict=True)
    ]
    together = convert_files(
        neural_slt,
        [
            ConvertTask(src, tmp_path / f"{n}-batch.wav", opts)
            for n, src in zip(names, srcs, strict=True)
        ],
        max_batch=5,
    )
    chunked = convert_file(
        neural_slt, srcs[1], tmp_path / "rms-chunks.wav", options=opts, max_batch=4
    )
    assert [r.chunks for r in together] == [r.chunks for r in alone]
    assert all(r.chunks > 2 for r in alone)
    pairs = [(f"{n}-alone.wav", f"{n}-batch.wav") for n in names]
    pairs.append(("rms-alone.wav", "rms-chunks.wav"))
    for a_name, b_name in pairs:
        a, sr_a = sf.read(tmp_path / a_name, dtype="float32")
        b, sr_b = sf.read(tmp_path / b_name, dtype="float32")
        assert sr_a == sr_b and a.shape == b.shape
        # equal up to one 16-bit step (float rounding of batched kernels can flip one)
        assert float(np.max(np.abs(a - b))) <= LSB * 1.01
        assert float(np.mean(a != b)) < 0.01
    assert chunked.chunks == alone[1].chunks
