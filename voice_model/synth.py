"""Differentiable harmonic-plus-noise (DDSP) synthesiser in torch.

The periodic part is additive: harmonic k of F0 with amplitude
``2 * sqrt(sp(k * F0) * (1 - ap) * F0 / sample_rate)`` (the line spectrum of WORLD's
pulse train, so ``sp`` means the same power as in ``pyworld.synthesize``). The aperiodic
part is white noise filtered in the STFT domain by ``sqrt(sp * ap)``; the STFT uses
WORLD's FFT size and the feature hop, so envelope frame ``t`` filters STFT frame ``t``
(both centred at sample ``t * hop``). ``ap`` is a power ratio, as in WORLD.

Two things make chunked synthesis identical to whole-signal synthesis away from chunk
edges: the noise is read from a fixed table at the absolute sample position
(``sample_offset``), and the harmonic phase can be anchored to a value handed over from
the previous chunk (``phase_anchor``).

Shapes: ``f0`` ``(B, T)`` Hz (0 = unvoiced); ``sp``, ``ap`` ``(B, T, F)`` with
``F = n_fft // 2 + 1``; output ``(B, (T - 1) * hop)`` samples; phases in cycles.

``synthesize_padded`` renders items of different lengths in one batch (padded to the longest):
every item's samples are those of rendering it alone, up to float rounding. Padding is harmless
because each output sample reads only its own two neighbouring frames, the noise is zeroed past
each item's end (a lone render's STFT pads with zeros there), the inverse STFT runs per item,
and the extra harmonics a batch with a lower F0 needs are above each item's Nyquist limit, so
they add zeros.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

NOISE_TABLE_SAMPLES = 1 << 20
WINDOW_HOPS = 4
UNVOICED_PHASE_HZ = 100.0
# Gains that make this synthesiser's output level match pyworld.synthesize for the same
# features (measured on speech at 24 kHz: periodic and aperiodic parts separately).
PERIODIC_GAIN = 1.0
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


def pulse_phase_rows(
    f0_samples: torch.Tensor,
    sample_rate: int,
    anchors: Sequence[tuple[int, torch.Tensor] | None],
) -> torch.Tensor:
    """``pulse_phase`` with one optional anchor per row of ``f0_samples`` ``(B, N)``."""
    phase = torch.cumsum(f0_samples.double() / sample_rate, dim=-1)
    rows = []
    for r, anchor in enumerate(anchors):
        if anchor is None:
            rows.append(phase[r])
        else:
            i, value = anchor
            rows.append(phase[r] - phase[r, i] + value.double().reshape(()).to(phase.device))
    return torch.stack(rows)


def harmonics(
    f0_frames: torch.Tensor,
    f0s: torch.Tensor,
    voiced: torch.Tensor,
    phase: torch.Tensor,
    power: torch.Tensor,
    *,
    sample_rate: int,
    hop: int,
    block: int = 8192,
) -> torch.Tensor:
    """Additive harmonic part ``(B, N)``.

    Harmonic k has amplitude ``2 * sqrt(power(k * f0) * f0 / sample_rate)``: the line
    amplitude of a pulse train whose pulses carry ``power`` (``(B, T, F)``). Amplitudes are
    looked up at frame rate from ``f0_frames`` ``(B, T)`` and interpolated per sample; the
    phase of harmonic k is ``k * phase`` (``(B, N)`` cycles). Rendered in steps of ``block``
    samples of every row on a GPU; on the CPU of ``block / B``, so that a step's working set
    stays the same whatever the batch (with ``block`` per row, a batch of 16 ran almost 4
    times slower than 16 single renders: caches thrashed). A GPU has the memory bandwidth, and
    more, smaller steps would cost it kernel launches.
    """
    b, t, n_bins = power.shape
    n = f0s.shape[-1]
    nyquist = sample_rate / 2
    k_max = int(nyquist / max(float(f0_frames.min()), 40.0))
    k = torch.arange(1, k_max + 1, device=f0s.device, dtype=power.dtype)
    bin_hz = nyquist / (n_bins - 1)
    freqs = f0_frames[..., None].to(power.dtype) * k  # (B, T, K)
    pos = (freqs / bin_hz).clamp(max=n_bins - 1)
    bl = pos.floor().long().clamp(max=n_bins - 2)
    wb = pos - bl.to(pos.dtype)
    pw = torch.gather(power, 2, bl) * (1 - wb) + torch.gather(power, 2, bl + 1) * wb
    amp_frames = 2.0 * torch.sqrt(pw.clamp(min=0.0) * f0_frames[..., None] / sample_rate)
    out = torch.zeros(b, n, device=f0s.device, dtype=power.dtype)
    frame_pos = torch.arange(n, device=f0s.device, dtype=power.dtype) / hop
    # Fractional phase in double, then harmonics in single precision (k * 1e-7 cycles).
    frac = torch.remainder(phase, 1.0).to(power.dtype)
    if f0s.device.type == "cpu":
        block = max(256, block // b)  # samples per row in one step
    for start in range(0, n, block):
        stop = min(n, start + block)
        fr = frame_pos[start:stop]
        lo = fr.floor().long().clamp(max=t - 1)
        hi = (lo + 1).clamp(max=t - 1)
        kb = min(k_max, int(nyquist / max(float(f0s[:, start:stop].min()), 40.0)))
        wt = (fr - lo.to(fr.dtype))[None, :, None]
        amp = amp_frames[:, lo, :kb] * (1 - wt) + amp_frames[:, hi, :kb] * wt  # (B, S, K)
        below = (f0s[:, start:stop, None].to(amp.dtype) * k[:kb]) < nyquist
        ph = frac[:, start:stop, None] * k[:kb]
        wave = (amp * below * torch.cos(2 * torch.pi * ph)).sum(-1)
        out[:, start:stop] = wave * voiced[:, start:stop]
    return out


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
    b, t = f0.shape
    audio, phase = synthesize_padded(
        f0,
        sp,
        ap,
        [t] * b,
        sample_rate=sample_rate,
        hop=hop,
        sample_offsets=[sample_offset] * b,
        phase_anchors=[phase_anchor] * b
        if phase_anchor is None
        else _split_anchor(phase_anchor, b),
    )
    return torch.stack(audio), torch.stack(phase)


def _split_anchor(
    anchor: tuple[int, torch.Tensor], b: int
) -> list[tuple[int, torch.Tensor] | None]:
    i, value = anchor
    values = value.reshape(-1).expand(b) if value.numel() == 1 else value.reshape(b)
    return [(i, values[r]) for r in range(b)]


def synthesize_padded(
    f0: torch.Tensor,
    sp: torch.Tensor,
    ap: torch.Tensor,
    frames: Sequence[int],
    *,
    sample_rate: int,
    hop: int,
    sample_offsets: Sequence[int],
    phase_anchors: Sequence[tuple[int, torch.Tensor] | None],
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Render B items padded to ``T`` frames; item ``i`` has ``frames[i]`` valid frames.

    Returns per item its audio and phase (cycles), each ``((frames[i] - 1) * hop,)``; padded
    frames never reach an item's samples. ``sample_offsets[i]`` is the item's absolute start
    (noise position); ``phase_anchors[i]`` pins its phase as in ``pulse_phase``.
    """
    t, n_bins = sp.shape[1:]
    n_fft = 2 * (n_bins - 1)
    n = (t - 1) * hop
    lengths = [(int(fr) - 1) * hop for fr in frames]
    device = f0.device
    # Phase runs on a fixed 100 Hz through unvoiced frames: interpolating towards 0 Hz would
    # stretch the last periods (clicks), and holding the neighbouring F0 would make the
    # phase depend on where a chunk starts.
    voiced_frames = f0 > 0
    f0s = upsample_frames(torch.where(voiced_frames, f0, UNVOICED_PHASE_HZ), hop, n)
    voiced = upsample_frames(voiced_frames.to(sp.dtype), hop, n)
    phase = pulse_phase_rows(f0s, sample_rate, phase_anchors)
    table = _noise_table(str(device))
    pos = torch.arange(n, device=device)
    offsets = torch.tensor(list(sample_offsets), device=device, dtype=torch.long)[:, None]
    noise = table[(pos + offsets) % NOISE_TABLE_SAMPLES].to(sp.dtype)
    ends = torch.tensor(lengths, device=device, dtype=torch.long)[:, None]
    noise = torch.where(pos < ends, noise, torch.zeros((), dtype=sp.dtype, device=device))

    win = min(n_fft, WINDOW_HOPS * hop)
    window = torch.hann_window(win, device=device, dtype=sp.dtype)
    # As in WORLD, ``ap`` is a power ratio: periodic power sp*(1-ap), aperiodic sp*ap.
    power = sp.clamp(min=0.0).transpose(1, 2)  # (B, F, T)
    apt = ap.clamp(0.0, 1.0).transpose(1, 2)
    spec = torch.stft(
        noise,
        n_fft,
        hop,
        win_length=win,
        window=window,
        center=True,
        return_complex=True,
        pad_mode="constant",
    )[..., :t] * (torch.sqrt(power * apt) * NOISE_GAIN)
    harmonic_power = (power * (1.0 - apt)).transpose(1, 2)  # (B, T, F)
    f0_frames = torch.where(voiced_frames, f0, UNVOICED_PHASE_HZ)
    periodic = harmonics(
        f0_frames, f0s, voiced, phase, harmonic_power, sample_rate=sample_rate, hop=hop
    )
    audio, phases = [], []
    for i, (fr, length) in enumerate(zip(frames, lengths, strict=True)):
        # Per item: the overlap-add normalisation near an item's end must not count frames
        # past it.
        noisy = torch.istft(
            spec[i : i + 1, :, :fr],
            n_fft,
            hop,
            win_length=win,
            window=window,
            center=True,
            length=length,
        )[0]
        audio.append(noisy + periodic[i, :length] * PERIODIC_GAIN)
        phases.append(phase[i, :length])
    return audio, phases
