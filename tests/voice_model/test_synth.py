"""DDSP synthesiser: shapes, determinism, WORLD-matched level, chunk hand-over."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from voice_model import synth
from voice_model.features import FeatureConfig, analyze, synthesize

CFG = FeatureConfig()


def _render(f0: np.ndarray, sp: np.ndarray, ap: np.ndarray, **kw: object) -> torch.Tensor:
    audio, _ = synth.synthesize(
        torch.from_numpy(f0)[None].float(),
        torch.from_numpy(sp)[None].float(),
        torch.from_numpy(ap)[None].float(),
        sample_rate=CFG.sample_rate,
        hop=CFG.hop,
        **kw,  # type: ignore[arg-type]
    )
    return audio[0]


def test_shapes_determinism_and_level_match_world(sung: Callable[..., np.ndarray]) -> None:
    feats = analyze(sung([220.0, 330.0], note_s=0.5), CFG)
    a = _render(feats.f0, feats.sp, feats.ap)
    b = _render(feats.f0, feats.sp, feats.ap)
    assert a.shape == ((len(feats) - 1) * CFG.hop,)
    torch.testing.assert_close(a, b)
    world = synthesize(feats.f0, feats.sp, feats.ap, CFG)
    ratio_db = 20 * np.log10(float(a.pow(2).mean().sqrt()) / float(np.sqrt(np.mean(world**2))))
    assert abs(ratio_db) < 2.0


def test_batched_equals_single(sung: Callable[..., np.ndarray]) -> None:
    feats = analyze(sung([220.0, 330.0], note_s=0.3), CFG)
    f0 = torch.from_numpy(feats.f0).float()
    sp = torch.from_numpy(feats.sp).float()
    ap = torch.from_numpy(feats.ap).float()
    both, _ = synth.synthesize(
        torch.stack([f0, f0 * 1.5]),
        torch.stack([sp, sp]),
        torch.stack([ap, ap]),
        sample_rate=CFG.sample_rate,
        hop=CFG.hop,
    )
    torch.testing.assert_close(both[0], _render(feats.f0, feats.sp, feats.ap), atol=1e-4, rtol=0)


def test_chunk_handover_reproduces_whole_signal(sung: Callable[..., np.ndarray]) -> None:
    feats = analyze(sung([220.0, 250.0, 280.0], note_s=0.6), CFG)
    whole, phase = synth.synthesize(
        torch.from_numpy(feats.f0)[None].float(),
        torch.from_numpy(feats.sp)[None].float(),
        torch.from_numpy(feats.ap)[None].float(),
        sample_rate=CFG.sample_rate,
        hop=CFG.hop,
    )
    start = 60  # frames
    s0 = start * CFG.hop
    anchor_at = 10 * CFG.hop
    part = _render(
        feats.f0[start:],
        feats.sp[start:],
        feats.ap[start:],
        sample_offset=s0,
        phase_anchor=(anchor_at, phase[:, s0 + anchor_at]),
    )
    lo, hi = anchor_at + 4 * CFG.hop, part.shape[0] - 4 * CFG.hop
    torch.testing.assert_close(part[lo:hi], whole[0, s0 + lo : s0 + hi], atol=2e-3, rtol=0)
