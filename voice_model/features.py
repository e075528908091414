"""Frame-level voice features and per-speaker normalisation statistics.

All features share one frame grid: frame ``t`` is centred at ``t * frame_period_ms`` ms.
With ``T`` frames, ``F = fft_size // 2 + 1`` bins and ``D = mcep_dims``:

- ``f0``: ``(T,)`` Hz, 0 on unvoiced frames (WORLD DIO+StoneMask, or torchfcpe's shipped
  model, both passed through octave-error correction);
- ``sp``: ``(T, F)`` WORLD CheapTrick power spectral envelope;
- ``ap``: ``(T, F)`` WORLD D4C aperiodicity in [0, 1];
- ``mcep``: ``(T, D)`` mel-cepstrum of ``sp`` (WORLD's coded spectral envelope);
- ``loudness_db``: ``(T,)`` frame RMS level in dBFS.

``SpeakerStats`` summarise a speaker: log-F0 mean/std (natural log of Hz) over voiced
frames, mel-cepstral mean/std over voiced frames, and the mean log envelope ``(F,)`` used
to estimate a formant (frequency-warp) ratio between two speakers.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyworld
from scipy.ndimage import median_filter

from voice_model.audio import resample

F64 = npt.NDArray[np.float64]
PitchMethod = Literal["world", "fcpe"]


@dataclass(frozen=True)
class FeatureConfig:
    """How audio is analysed; stored in every model card so conversion matches training."""

    sample_rate: int = 24_000
    frame_period_ms: float = 10.0
    f0_min_hz: float = 60.0
    f0_max_hz: float = 1100.0
    mcep_dims: int = 40
    pitch_method: PitchMethod = "world"

    @property
    def hop(self) -> int:
        """Samples per frame."""
        return round(self.sample_rate * self.frame_period_ms / 1000.0)

    @property
    def fft_size(self) -> int:
        return int(pyworld.get_cheaptrick_fft_size(self.sample_rate, 71.0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureConfig:
        return cls(**data)


@dataclass
class Features:
    """WORLD-domain features of one signal on one frame grid (see module docstring)."""

    f0: F64
    sp: F64
    ap: F64
    mcep: F64
    loudness_db: F64

    @property
    def voiced(self) -> npt.NDArray[np.bool_]:
        return self.f0 > 0

    def __len__(self) -> int:
        return int(self.f0.shape[0])


@dataclass
class SpeakerStats:
    """Normalisation statistics of one speaker (or one utterance)."""

    lf0_mean: float
    lf0_std: float
    mcep_mean: F64  # (D,)
    mcep_std: F64  # (D,)
    log_sp_mean: F64  # (F,) mean natural-log envelope over voiced frames, level removed

    def to_arrays(self, prefix: str) -> dict[str, F64]:
        return {
            f"{prefix}lf0": np.array([self.lf0_mean, self.lf0_std]),
            f"{prefix}mcep_mean": self.mcep_mean,
            f"{prefix}mcep_std": self.mcep_std,
            f"{prefix}log_sp_mean": self.log_sp_mean,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, Any], prefix: str) -> SpeakerStats:
        lf0 = np.asarray(arrays[f"{prefix}lf0"], dtype=np.float64)
        return cls(
            lf0_mean=float(lf0[0]),
            lf0_std=float(lf0[1]),
            mcep_mean=np.asarray(arrays[f"{prefix}mcep_mean"], dtype=np.float64),
            mcep_std=np.asarray(arrays[f"{prefix}mcep_std"], dtype=np.float64),
            log_sp_mean=np.asarray(arrays[f"{prefix}log_sp_mean"], dtype=np.float64),
        )


def correct_octaves(f0: F64, *, window: int = 41) -> F64:
    """Fold octave jumps back towards the local median contour; drop 1- or 2-frame blips.

    Pitch trackers most often err by exactly one octave (high notes read an octave low,
    breathy frames an octave high). A voiced frame more than ~0.6 octave from the median
    of the voiced frames around it is moved by whole octaves towards that median.
    """
    out = f0.astype(np.float64).copy()
    # Remove isolated voiced blips shorter than 3 frames: they are tracker noise.
    edges = np.diff(np.concatenate([[0], (out > 0).astype(np.int8), [0]]))
    for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        if stop - start < 3:
            out[start:stop] = 0.0
    voiced = out > 0
    if voiced.sum() < 3:
        return out
    lf = np.where(voiced, np.log2(np.where(voiced, out, 1.0)), np.nan)
    idx = np.flatnonzero(voiced)
    # Median over voiced frames only: fill unvoiced gaps with the nearest voiced value.
    filled = np.interp(np.arange(len(out)), idx, lf[idx])
    med = median_filter(filled, size=window, mode="nearest")
    dev = lf - med
    shift = np.where(voiced & (np.abs(dev) > 0.6), -np.round(dev), 0.0)
    out[voiced] = 2.0 ** (lf[voiced] + shift[voiced])
    return out


@lru_cache(maxsize=2)
def _fcpe_model(device: str) -> Any:
    from torchfcpe import spawn_bundled_infer_model

    # torchfcpe prints its set-up chatter to stdout; keep CLI output clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return spawn_bundled_infer_model(device=device)


def fcpe_f0(x: F64, sample_rate: int, n_frames: int, cfg: FeatureConfig, device: str) -> F64:
    """F0 ``(n_frames,)`` Hz from torchfcpe's shipped model (0 = unvoiced)."""
    import torch

    audio16 = resample(x.astype(np.float32), sample_rate, 16_000)
    model = _fcpe_model(device)
    with torch.inference_mode(), contextlib.redirect_stdout(io.StringIO()):
        wav = torch.from_numpy(audio16).to(device)[None, :, None]
        f0 = model.infer(
            wav,
            sr=16_000,
            decoder_mode="local_argmax",
            threshold=0.006,
            f0_min=cfg.f0_min_hz,
            f0_max=cfg.f0_max_hz,
            interp_uv=False,
            output_interp_target_length=n_frames,
        )
    return np.asarray(f0[0, :, 0].float().cpu().numpy(), dtype=np.float64)


def world_f0(x: F64, cfg: FeatureConfig) -> tuple[F64, F64]:
    """(F0 ``(T,)`` Hz, frame times ``(T,)`` s) from WORLD DIO refined by StoneMask."""
    f0, t = pyworld.dio(
        x,
        cfg.sample_rate,
        f0_floor=cfg.f0_min_hz,
        f0_ceil=cfg.f0_max_hz,
        frame_period=cfg.frame_period_ms,
    )
    f0 = pyworld.stonemask(x, f0, t, cfg.sample_rate)
    return np.asarray(f0, dtype=np.float64), np.asarray(t, dtype=np.float64)


def analyze(audio: npt.NDArray[Any], cfg: FeatureConfig, *, device: str = "cpu") -> Features:
    """WORLD analysis of mono ``audio`` ``(samples,)`` at ``cfg.sample_rate``."""
    x = np.ascontiguousarray(audio, dtype=np.float64)
    f0, t = world_f0(x, cfg)
    if cfg.pitch_method == "fcpe":
        f0 = fcpe_f0(x, cfg.sample_rate, len(f0), cfg, device)
    f0 = correct_octaves(f0)
    sp = pyworld.cheaptrick(x, f0, t, cfg.sample_rate, fft_size=cfg.fft_size)
    ap = pyworld.d4c(x, f0, t, cfg.sample_rate, fft_size=cfg.fft_size)
    mcep = pyworld.code_spectral_envelope(sp, cfg.sample_rate, cfg.mcep_dims)
    return Features(
        f0=f0,
        sp=np.asarray(sp),
        ap=np.asarray(ap),
        mcep=np.asarray(mcep),
        loudness_db=frame_loudness_db(x, len(f0), cfg.hop),
    )


def frame_loudness_db(x: F64, n_frames: int, hop: int) -> F64:
    """RMS level in dBFS ``(n_frames,)`` over a 2-hop window centred on each frame."""
    padded = np.pad(x, (hop, hop + n_frames * hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, 2 * hop)[::hop][:n_frames]
    rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
    return np.asarray(20.0 * np.log10(rms), dtype=np.float64)


def synthesize(f0: F64, sp: F64, ap: F64, cfg: FeatureConfig) -> npt.NDArray[np.float32]:
    """WORLD synthesis to float32 ``(samples,)`` at ``cfg.sample_rate``."""
    y = pyworld.synthesize(
        np.ascontiguousarray(f0),
        np.ascontiguousarray(sp),
        np.ascontiguousarray(ap),
        cfg.sample_rate,
        cfg.frame_period_ms,
    )
    return np.asarray(y, dtype=np.float32)


def decode_mcep(mcep: F64, cfg: FeatureConfig) -> F64:
    """Mel-cepstrum ``(T, D)`` back to a power envelope ``(T, F)``."""
    return np.asarray(
        pyworld.decode_spectral_envelope(np.ascontiguousarray(mcep), cfg.sample_rate, cfg.fft_size),
        dtype=np.float64,
    )


def speaker_stats(feats: list[Features]) -> SpeakerStats:
    """Statistics over the voiced frames of ``feats`` (all frames if none are voiced)."""
    f0 = np.concatenate([f.f0 for f in feats])
    mcep = np.concatenate([f.mcep for f in feats])
    sp = np.concatenate([f.sp for f in feats])
    voiced = f0 > 0
    sel = voiced if voiced.sum() >= 10 else np.ones_like(voiced)
    lf0 = np.log(f0[voiced]) if voiced.any() else np.array([math.log(150.0)])
    log_sp = np.log(sp[sel] + 1e-16)
    log_sp -= log_sp.mean(axis=1, keepdims=True)
    return SpeakerStats(
        lf0_mean=float(lf0.mean()),
        lf0_std=float(max(lf0.std(), 1e-3)),
        mcep_mean=mcep[sel].mean(axis=0),
        mcep_std=np.maximum(mcep[sel].std(axis=0), 1e-4),
        log_sp_mean=log_sp.mean(axis=0),
    )


def warp_envelope(sp: F64, ratio: float) -> F64:
    """Frequency-warp envelopes ``(T, F)`` so a formant at f moves to ``ratio * f``."""
    if abs(ratio - 1.0) < 1e-6:
        return sp
    n = sp.shape[1]
    src = np.clip(np.arange(n) / ratio, 0, n - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, n - 1)
    w = src - lo
    return np.asarray(sp[:, lo] * (1.0 - w) + sp[:, hi] * w, dtype=np.float64)


def estimate_warp(source: SpeakerStats, target: SpeakerStats, cfg: FeatureConfig) -> float:
    """Formant ratio target/source minimising the mean-log-envelope distance below 5 kHz."""
    n = source.log_sp_mean.shape[0]
    top = min(n, int(5000.0 / (cfg.sample_rate / 2) * (n - 1)))
    best, best_err = 1.0, math.inf
    for ratio in np.exp(np.linspace(math.log(0.75), math.log(1.33), 41)):
        warped = warp_envelope(source.log_sp_mean[None, :], float(ratio))[0]
        diff = warped[:top] - target.log_sp_mean[:top]
        err = float(np.mean((diff - diff.mean()) ** 2))
        if err < best_err:
            best, best_err = float(ratio), err
    return best
