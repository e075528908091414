"""Differentiable harmonic-plus-noise (DDSP) synthesiser in torch.

A band-limited pulse train at F0 (one sinc pulse per period, the "combtooth" excitation of
DDSP-SVC) and a white-noise excitation are filtered in the STFT domain by the spectral
envelope: the periodic part by ``sqrt(sp) * (1 - ap)``, the aperiodic part by
``sqrt(sp) * ap``. The STFT uses WORLD's FFT size and the feature hop, so envelope frame
``t`` filters STFT frame ``t`` (both centred at sample ``t * hop``).

Two things make chunked synthesis identical to whole-signal synthesis away from chunk
edges: the noise is read from a fixed table at the absolute sample position
(``sample_offset``), and the pulse phase can be anchored to a value handed over from the
previous chunk (``phase_anchor``).

Shapes: ``f0`` ``(B, T)`` Hz (0 = unvoiced); ``sp``, ``ap`` ``(B, T, F)`` with
``F = n_fft // 2 + 1``; output ``(B, (T - 1) * hop)`` samples; phases in cycles.
"""

from __future__ import annotations

from functools import lru_cache

import torch

NOISE_TABLE_SAMPLES = 1 << 20
# Gains that make this synthesiser's output level match pyworld.synthesize for the same
# features (measured on speech at 24 kHz: periodic and aperiodic parts separately).
PERIODIC_GAIN = 0.93
NOISE_GAIN = 0.67


@lru_cache(maxsize=4)
def _noise_table(device: str) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0x7153)
    return torch.randn(NOISE_TABLE_SAMPLES, generator=gen).to(device)


def upsample_frames(x: torch.Tensor, hop: int, n_samples: int) -> torch.Tensor:
    """Linear interpolation of frame values ``(B, T)`` (frame t at sample t*hop) to samples."""
    t = x.shape[-1]
    pos = torch.arange(n_samples, device=x.device, dtype=x.dtype) / hop
    lo = pos.floor().long().clamp(max=t - 1)
    hi = (lo + 1).clamp(max=t - 1)
    w = pos - lo.to(x.dtype)
    return x[..., lo] * (1 - w) + x[..., hi] * w


def pulse_phase(
    f0_samples: torch.Tensor, sample_rate: int, anchor: tuple[int, torch.Tensor] | None = None
) -> torch.Tensor:
    """Cumulative phase in cycles ``(B, N)``; ``anchor=(i, value)`` pins ``phase[:, i]``."""
    phase = torch.cumsum(f0_samples.double() / sample_rate, dim=-1)
    if anchor is not None:
        i, value = anchor
        phase = phase - phase[:, i : i + 1] + value.double().reshape(-1, 1)
    return phase


def synthesize(
    f0: torch.Tensor,
    sp: torch.Tensor,
    ap: torch.Tensor,
    *,
    sample_rate: int,
    hop: int,
    sample_offset: int = 0,
    phase_anchor: tuple[int, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Render ``(audio (B, N), phase (B, N) in cycles)`` with ``N = (T - 1) * hop``."""
    b, t, n_bins = sp.shape
    n_fft = 2 * (n_bins - 1)
    n = (t - 1) * hop
    device = f0.device
    f0s = upsample_frames(f0, hop, n)
    voiced = (f0s > 0).to(sp.dtype)
    phase = pulse_phase(f0s.clamp(min=1.0), sample_rate, phase_anchor)
    frac = (phase - torch.round(phase)).to(sp.dtype)
    # One band-limited pulse per period, unit area spectrum; silent where unvoiced.
    # Scaled by sqrt(period) as WORLD's pulses are, so ``sp`` means the same power here.
    period = sample_rate / f0s.clamp(min=1.0)
    pulses = torch.sinc(period * frac) * torch.sqrt(period) * voiced
    table = _noise_table(str(device))
    idx = (torch.arange(n, device=device) + sample_offset) % NOISE_TABLE_SAMPLES
    noise = table[idx].to(sp.dtype).expand(b, n)

    window = torch.hann_window(n_fft, device=device, dtype=sp.dtype)

    def stft(x: torch.Tensor) -> torch.Tensor:
        return torch.stft(
            x, n_fft, hop, window=window, center=True, return_complex=True, pad_mode="constant"
        )

    # As in WORLD, ``ap`` is a power ratio: periodic power sp*(1-ap), aperiodic sp*ap.
    power = sp.clamp(min=0.0).transpose(1, 2)  # (B, F, T)
    apt = ap.clamp(0.0, 1.0).transpose(1, 2)
    spec = stft(pulses)[..., :t] * (torch.sqrt(power * (1.0 - apt)) * PERIODIC_GAIN)
    spec = spec + stft(noise)[..., :t] * (torch.sqrt(power * apt) * NOISE_GAIN)
    audio = torch.istft(spec, n_fft, hop, window=window, center=True, length=n)
    return audio, phase
