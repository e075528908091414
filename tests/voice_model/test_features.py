"""Feature shapes, pitch accuracy, octave correction, warp estimation, baseline transpose."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from voice_model import features as F
from voice_model.baseline import plan_pitch, plan_source
from voice_model.features import FeatureConfig, analyze, correct_octaves, speaker_stats

CFG = FeatureConfig()


def test_analyze_shapes_and_determinism(sung: Callable[..., np.ndarray]) -> None:
    audio = sung([220.0, 247.0], note_s=0.5)
    a, b = analyze(audio, CFG), analyze(audio, CFG)
    t = audio.shape[0] // CFG.hop + 1
    n_bins = CFG.fft_size // 2 + 1
    assert a.f0.shape == (t,)
    assert a.sp.shape == a.ap.shape == (t, n_bins)
    assert a.mcep.shape == (t, CFG.mcep_dims)
    assert a.loudness_db.shape == (t,)
    np.testing.assert_array_equal(a.mcep, b.mcep)


@pytest.mark.parametrize("method", ["world", "fcpe"])
def test_pitch_tracks_melody(method: str, sung: Callable[..., np.ndarray]) -> None:
    notes = [196.0, 293.7, 440.0, 659.3]
    audio = sung(notes, note_s=0.4)
    cfg = FeatureConfig(pitch_method=method)  # type: ignore[arg-type]
    f0 = analyze(audio, cfg).f0
    per_note = int(0.4 * 1000 / cfg.frame_period_ms)
    for i, hz in enumerate(notes):
        mid = f0[i * per_note + 8 : (i + 1) * per_note - 8]
        voiced = mid[mid > 0]
        assert voiced.size > 0.8 * mid.size
        cents = 1200 * np.abs(np.log2(voiced / hz))
        assert np.median(cents) < 30, (method, hz, np.median(voiced))


def test_correct_octaves_folds_octave_errors_and_blips() -> None:
    f0 = np.full(200, 300.0)
    f0[80:95] = 150.0  # read an octave low
    f0[120:125] = 600.0  # an octave high
    f0[150:152] = 0.0
    f0[170:172] = 0.0
    f0[160] = 0.0
    out = correct_octaves(f0)
    assert np.allclose(out[:150], 300.0)
    lone = np.zeros(30)
    lone[10] = 200.0  # a single voiced frame is noise
    assert not correct_octaves(lone).any()


def test_estimate_warp_recovers_known_formant_shift(sung: Callable[..., np.ndarray]) -> None:
    audio = sung([220.0, 247.0, 262.0], note_s=0.5)
    feats = analyze(audio, CFG)
    stats = speaker_stats([feats])
    warped = F.Features(
        f0=feats.f0,
        sp=F.warp_envelope(feats.sp, 1.15),
        ap=feats.ap,
        mcep=feats.mcep,
        loudness_db=feats.loudness_db,
    )
    ratio = F.estimate_warp(stats, speaker_stats([warped]), CFG)
    assert ratio == pytest.approx(1.15, rel=0.03)


def test_singing_plan_keeps_key_and_applies_transpose(sung: Callable[..., np.ndarray]) -> None:
    low = speaker_stats([analyze(sung([110.0, 123.5]), CFG)])
    high = speaker_stats([analyze(sung([233.0, 261.6]), CFG)])
    plan = plan_pitch(low, high, mode="singing", transpose=3.0)
    f0 = np.array([0.0, 110.0, 220.0])
    out = plan.apply(f0)
    assert out[0] == 0.0
    # One octave up (register of the target) plus 3 semitones, ratios between notes kept.
    assert out[1] == pytest.approx(110.0 * 2 ** (15 / 12), rel=1e-6)
    assert out[2] / out[1] == pytest.approx(2.0)
    speech = plan_pitch(low, high, mode="speech")
    assert math.log(speech.apply(np.array([math.exp(low.lf0_mean)]))[0]) == pytest.approx(
        high.lf0_mean
    )


def test_plan_source_measures_warp(sung: Callable[..., np.ndarray]) -> None:
    audio = sung([220.0, 247.0])
    feats = analyze(audio, CFG)
    plan = plan_source(feats, speaker_stats([feats]), CFG, mode="speech")
    assert plan.warp == pytest.approx(1.0, abs=0.02)
