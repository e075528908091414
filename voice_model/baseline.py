"""Baseline WORLD conversion: the control every other method must beat, and the fallback.

Pitch: ``speech`` mode maps log-F0 mean/variance of the source onto the target's;
``singing`` mode keeps the melody and moves it by whole octaves towards the target's
register (so the key is kept), plus the user's transpose in semitones. Timbre: the
source envelope is frequency-warped by the estimated formant ratio, then its mel-cepstrum
(dims 1..D-1; c0, the level, stays the source's) is mean/variance matched to the target.

Arrays follow ``voice_model.features``: ``(T,)`` per-frame, ``(T, D)`` mel-cepstra.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voice_model.features import (
    F64,
    FeatureConfig,
    Features,
    SpeakerStats,
    estimate_warp,
    speaker_stats,
    warp_envelope,
)

Mode = Literal["speech", "singing"]


@dataclass(frozen=True)
class PitchPlan:
    """How source F0 becomes output F0: ``exp((ln f0 - src_mean) * scale + dst_mean)``."""

    src_mean: float
    dst_mean: float
    scale: float

    def apply(self, f0: F64) -> F64:
        out = np.zeros_like(f0)
        v = f0 > 0
        out[v] = np.exp((np.log(f0[v]) - self.src_mean) * self.scale + self.dst_mean)
        return out


def plan_pitch(
    source: SpeakerStats, target: SpeakerStats, *, mode: Mode, transpose: float = 0.0
) -> PitchPlan:
    """The F0 mapping for ``mode``; ``transpose`` is in semitones (12 = one octave up)."""
    shift = transpose / 12.0 * math.log(2.0)
    if mode == "speech":
        return PitchPlan(
            src_mean=source.lf0_mean,
            dst_mean=target.lf0_mean + shift,
            scale=target.lf0_std / source.lf0_std,
        )
    octaves = round((target.lf0_mean - source.lf0_mean) / math.log(2.0))
    return PitchPlan(
        src_mean=source.lf0_mean,
        dst_mean=source.lf0_mean + octaves * math.log(2.0) + shift,
        scale=1.0,
    )


def match_mcep(mcep: F64, source: SpeakerStats, target: SpeakerStats) -> F64:
    """Mean/variance-match mel-cepstra ``(T, D)``; c0 (level) is left as the source's."""
    out = (mcep - source.mcep_mean) / source.mcep_std * target.mcep_std + target.mcep_mean
    out[:, 0] = mcep[:, 0]
    return np.asarray(out, dtype=np.float64)


def warp_mcep(feats: Features, ratio: float, cfg: FeatureConfig) -> tuple[F64, SpeakerStats]:
    """Warp the source envelope by ``ratio``; return its mel-cepstra and their statistics."""
    import pyworld

    sp = warp_envelope(feats.sp, ratio)
    mcep = np.asarray(
        pyworld.code_spectral_envelope(np.ascontiguousarray(sp), cfg.sample_rate, cfg.mcep_dims),
        dtype=np.float64,
    )
    warped = Features(f0=feats.f0, sp=sp, ap=feats.ap, mcep=mcep, loudness_db=feats.loudness_db)
    return mcep, speaker_stats([warped])


@dataclass(frozen=True)
class SourcePlan:
    """The mapping of one input, fixed once so every chunk of a long input is treated alike."""

    warp: float
    warped: SpeakerStats  # statistics of the source after frequency warping
    pitch: PitchPlan


def plan_source(
    feats: Features,
    target: SpeakerStats,
    cfg: FeatureConfig,
    *,
    mode: Mode,
    transpose: float = 0.0,
) -> SourcePlan:
    """Measure the source (``feats``: the whole input, or a long excerpt of it)."""
    src = speaker_stats([feats])
    ratio = estimate_warp(src, target, cfg)
    _, warped = warp_mcep(feats, ratio, cfg)
    return SourcePlan(
        warp=ratio, warped=warped, pitch=plan_pitch(src, target, mode=mode, transpose=transpose)
    )


@dataclass
class Conversion:
    """Output features of a conversion, ready for synthesis."""

    f0: F64
    mcep: F64
    ap: F64


def convert_features(
    feats: Features, target: SpeakerStats, plan: SourcePlan, cfg: FeatureConfig
) -> Conversion:
    """Baseline conversion of ``feats`` (any chunk of the planned input) to ``target``."""
    mcep, _ = warp_mcep(feats, plan.warp, cfg)
    return Conversion(
        f0=plan.pitch.apply(feats.f0),
        mcep=match_mcep(mcep, plan.warped, target),
        ap=feats.ap,
    )
