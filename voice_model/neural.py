"""Per-creator neural envelope decoder, its perturbation training, and frame retrieval.

The decoder maps speaker-normalised source features to the creator's normalised
mel-cepstrum; the DDSP synthesiser (``voice_model.synth``) renders the result.

Per frame (``T`` frames, ``D`` mel-cepstral dims, ``Z = D - 1`` without c0):

- input ``(B, Z + 3, T)``: z-scored mel-cepstrum c1..c(D-1) of the (formant-warped) source,
  the output log-F0 z-scored with the creator's statistics, voicing (0/1) and the level
  c0 z-scored with the source's own statistics;
- output ``(B, Z, T)``: the creator's z-scored mel-cepstrum c1..c(D-1).

Training uses only the creator's audio. Each view of it is perturbed (speed change of the
audio, which moves pitch and formants together; a random formant warp and a random
smooth EQ of the envelope) and then normalised exactly as a fan's input would be, so the
decoder learns to map "any voice, normalised" back to the creator.

Retrieval ("index rate"): the decoder's output queries the creator's own frames (``(N, Z)``
keys); the 8 nearest, weighted by 1/d², are blended in (RVC's scheme), so output frames
are built from frames the creator actually produced. "Protect" keeps the source's frames
(mean/variance matched, as in the baseline) on unvoiced frames: consonants and breaths.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyworld
import torch
from torch import nn

from voice_model.audio import resample
from voice_model.features import (
    F64,
    FeatureConfig,
    Features,
    SpeakerStats,
    analyze,
    estimate_warp,
    speaker_stats,
    warp_envelope,
)

F32 = npt.NDArray[np.float32]
KNN_K = 8
MAX_INDEX_FRAMES = 30_000


class FrameNorm(nn.Module):
    """LayerNorm over channels of each frame of ``(B, C, T)``: keeps the net time-local."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return out


class EnvelopeDecoder(nn.Module):
    """Residual 1-D conv stack: ``(B, n_in, T)`` → ``(B, n_out, T)``.

    The output is the input's first ``n_out`` channels (the source's z-scored mel-cepstrum,
    i.e. the baseline's answer) plus a learned correction that starts at zero, so training
    starts from the baseline and can only move away from it where that lowers the loss.
    ``gv_mean``/``gv_scale`` (per channel) undo the over-smoothing of regression (global
    variance compensation); they are measured after training. Receptive field: 1 + 6 *
    layers frames.
    """

    def __init__(self, n_in: int, n_out: int, hidden: int = 128, layers: int = 4) -> None:
        super().__init__()
        self.n_out = n_out
        self.register_buffer("gv_mean", torch.zeros(n_out))
        self.register_buffer("gv_scale", torch.ones(n_out))
        self.inp = nn.Conv1d(n_in, hidden, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(hidden, hidden, 5, padding=2 * (i % 2 + 1), dilation=i % 2 + 1),
                nn.GELU(),
                nn.Conv1d(hidden, hidden, 1),
            )
            for i in range(layers)
        )
        self.norms = nn.ModuleList(FrameNorm(hidden) for _ in range(layers))
        self.out = nn.Conv1d(hidden, n_out, 1)
        nn.init.zeros_(self.out.weight)
        if self.out.bias is not None:
            nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``mask`` ``(B, 1, T)`` (1 on an item's frames, 0 on padding) for padded batches: the
        wide convolutions then see zeros past each item's end, as they do for an item alone,
        so its frames come out the same."""
        h = self.inp(x)
        for block, norm in zip(self.blocks, self.norms, strict=True):
            g = norm(h)
            h = h + block(g if mask is None else g * mask)
        out: torch.Tensor = x[:, : self.n_out] + self.out(h)
        return out

    def compensate(self, z: torch.Tensor) -> torch.Tensor:
        """Apply global variance compensation to outputs ``(..., n_out)`` (frames last-but-one)."""
        mean, scale = self.gv_mean, self.gv_scale
        assert isinstance(mean, torch.Tensor) and isinstance(scale, torch.Tensor)
        return mean + (z - mean) * scale


@dataclass
class DecoderConfig:
    hidden: int = 128
    layers: int = 4
    steps: int = 800
    batch: int = 16
    crop_frames: int = 128
    lr: float = 2e-3
    speeds: tuple[float, ...] = (0.89, 1.0, 1.12)
    views_per_speed: int = 3
    segment_s: float = 8.0
    seed: int = 0


def decoder_input(mcep: F64, warped: SpeakerStats, f0_out: F64, target: SpeakerStats) -> F32:
    """Stack the decoder input ``(Z + 3, T)`` float32 from source mel-cepstra ``(T, D)``."""
    z = (mcep - warped.mcep_mean) / warped.mcep_std
    voiced = f0_out > 0
    lf0 = np.zeros_like(f0_out)
    lf0[voiced] = (np.log(f0_out[voiced]) - target.lf0_mean) / target.lf0_std
    return np.concatenate(
        [z[:, 1:].T, lf0[None], voiced[None].astype(np.float64), z[:, :1].T], axis=0
    ).astype(np.float32)


def _random_eq(n_bins: int, rng: np.random.Generator, max_db: float = 6.0) -> F64:
    """A smooth random gain curve ``(F,)`` (power ratio) over log frequency."""
    x = np.log1p(np.arange(n_bins)) / math.log1p(n_bins - 1)
    curve = sum(
        rng.uniform(-1, 1) * np.cos(math.pi * k * x + rng.uniform(0, math.pi)) for k in range(1, 4)
    )
    db = max_db * np.asarray(curve) / 3.0
    return np.asarray(10.0 ** (db / 10.0), dtype=np.float64)


def _segments(n: int, size: int) -> Iterator[slice]:
    for start in range(0, max(n - size // 4, 1), size):
        yield slice(start, min(n, start + size))


def build_training_set(
    audio: F32,
    creator: Features,
    target: SpeakerStats,
    cfg: FeatureConfig,
    dcfg: DecoderConfig,
    *,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[list[F32], list[F32]]:
    """(inputs ``[(Z+3, T_i)]``, targets ``[(Z, T_i)]``) from perturbed views of the creator."""
    rng = np.random.default_rng(dcfg.seed)
    target_z = ((creator.mcep - target.mcep_mean) / target.mcep_std)[:, 1:].T.astype(np.float32)
    seg = int(dcfg.segment_s * 1000 / cfg.frame_period_ms)
    xs: list[F32] = []
    ys: list[F32] = []
    for si, speed in enumerate(dcfg.speeds):
        if progress:
            progress(si / len(dcfg.speeds), f"perturbing (speed {speed:.2f})")
        if speed == 1.0:
            feats = creator
        else:
            # Playing the audio ``speed`` times faster raises pitch and formants together.
            fast = resample(
                audio.astype(np.float32), round(cfg.sample_rate * speed), cfg.sample_rate
            )
            feats = analyze(fast, cfg)
        # Perturbed frame j shows the creator's frame j * speed.
        src_idx = np.minimum(
            np.round(np.arange(len(feats)) * speed).astype(int), target_z.shape[1] - 1
        )
        for _ in range(dcfg.views_per_speed):
            for sl in _segments(len(feats), seg):
                if sl.stop - sl.start < 20:
                    continue
                sp = warp_envelope(feats.sp[sl], float(np.exp(rng.uniform(-0.15, 0.15))))
                sp = sp * _random_eq(sp.shape[1], rng)
                f0 = feats.f0[sl]
                part = Features(
                    f0=f0,
                    sp=sp,
                    ap=feats.ap[sl],
                    mcep=_code(sp, cfg),
                    loudness_db=feats.loudness_db[sl],
                )
                stats = speaker_stats([part])
                ratio = estimate_warp(stats, target, cfg)
                mcep = _code(warp_envelope(sp, ratio), cfg)
                warped = speaker_stats(
                    [Features(f0=f0, sp=sp, ap=part.ap, mcep=mcep, loudness_db=part.loudness_db)]
                )
                # The decoder sees the F0 the conversion would output: the creator's own.
                f0_out = creator.f0[src_idx[sl]]
                xs.append(decoder_input(mcep, warped, f0_out, target))
                ys.append(target_z[:, src_idx[sl]])
    return xs, ys


def _code(sp: F64, cfg: FeatureConfig) -> F64:
    return np.asarray(
        pyworld.code_spectral_envelope(np.ascontiguousarray(sp), cfg.sample_rate, cfg.mcep_dims),
        dtype=np.float64,
    )


def train_decoder(
    xs: list[F32],
    ys: list[F32],
    dcfg: DecoderConfig,
    *,
    device: torch.device,
    progress: Callable[[float, str], None] | None = None,
) -> tuple[EnvelopeDecoder, dict[str, float]]:
    """Fit the decoder with L1 on z-scored mel-cepstra; returns it in eval mode + metrics."""
    gen = torch.Generator().manual_seed(dcfg.seed)
    torch.manual_seed(dcfg.seed)
    model = EnvelopeDecoder(xs[0].shape[0], ys[0].shape[0], dcfg.hidden, dcfg.layers).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=dcfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=dcfg.lr, total_steps=dcfg.steps)
    crop = dcfg.crop_frames
    pad = [(x, y) for x, y in zip(xs, ys, strict=True) if x.shape[1] >= crop]
    if not pad:
        crop = min(x.shape[1] for x in xs)
        pad = list(zip(xs, ys, strict=True))
    weights = torch.tensor([x.shape[1] for x, _ in pad], dtype=torch.float64)
    tx = [torch.from_numpy(x) for x, _ in pad]
    ty = [torch.from_numpy(y) for _, y in pad]
    loss_avg = math.nan
    model.train()
    for step in range(dcfg.steps):
        picks = torch.multinomial(weights, dcfg.batch, replacement=True, generator=gen).tolist()
        bx, by = [], []
        for i in picks:
            start = int(torch.randint(0, tx[i].shape[1] - crop + 1, (1,), generator=gen))
            bx.append(tx[i][:, start : start + crop])
            by.append(ty[i][:, start : start + crop])
        x, y = torch.stack(bx).to(device), torch.stack(by).to(device)
        loss = (model(x) - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        value = float(loss.detach())
        loss_avg = value if math.isnan(loss_avg) else 0.98 * loss_avg + 0.02 * value
        if progress and step % 50 == 0:
            progress(step / dcfg.steps, f"training decoder (L1 {loss_avg:.3f})")
    model.eval()
    with torch.inference_mode():
        sample = torch.multinomial(weights, min(64, len(pad)), generator=gen).tolist()
        outs = torch.cat([model(tx[i][None].to(device))[0].T for i in sample])
        refs = torch.cat([ty[i].T for i in sample]).to(device)
        model.gv_mean.copy_(outs.mean(0))  # type: ignore[operator]
        model.gv_scale.copy_((refs.std(0) / outs.std(0).clamp(min=1e-3)).clamp(0.5, 2.0))  # type: ignore[operator]
    return model, {"final_l1": loss_avg, "steps": float(dcfg.steps)}


def build_index(creator: Features, target: SpeakerStats) -> F32:
    """The creator's z-scored frames ``(N, Z)`` float32 (at most ``MAX_INDEX_FRAMES``)."""
    z = ((creator.mcep - target.mcep_mean) / target.mcep_std)[:, 1:]
    keep = creator.loudness_db > np.max(creator.loudness_db) - 50.0
    z = z[keep]
    if len(z) > MAX_INDEX_FRAMES:
        z = z[np.linspace(0, len(z) - 1, MAX_INDEX_FRAMES).astype(int)]
    return np.ascontiguousarray(z, dtype=np.float32)


def retrieve(query: torch.Tensor, index: torch.Tensor, *, block: int = 4096) -> torch.Tensor:
    """For queries ``(T, Z)``: the 1/d²-weighted mean of the ``KNN_K`` nearest index rows."""
    out = []
    k = min(KNN_K, index.shape[0])
    for start in range(0, query.shape[0], block):
        q = query[start : start + block]
        d2 = torch.cdist(q, index).pow(2)
        dist, idx = torch.topk(d2, k, dim=1, largest=False)
        w = 1.0 / (dist + 1e-3)
        w = w / w.sum(dim=1, keepdim=True)
        out.append((index[idx] * w[..., None]).sum(dim=1))
    return torch.cat(out) if out else query


@torch.inference_mode()
def decode(
    model: EnvelopeDecoder,
    x: F32,
    index: torch.Tensor | None,
    *,
    index_rate: float,
    protect: float,
    device: torch.device,
) -> F64:
    """Creator z-scored mel-cepstrum ``(T, Z)`` for decoder input ``x`` ``(Z+3, T)``."""
    return decode_batch(
        model, [x], index, index_rates=[index_rate], protects=[protect], device=device
    )[0]


@torch.inference_mode()
def decode_batch(
    model: EnvelopeDecoder,
    xs: list[F32],
    index: torch.Tensor | None,
    *,
    index_rates: list[float],
    protects: list[float],
    device: torch.device,
) -> list[F64]:
    """``decode`` of several inputs ``(Z+3, T_i)`` in one padded forward pass.

    One retrieval serves every item whose index rate is above 0 (its queries concatenated);
    each item's frames come out as when it is decoded alone.
    """
    lengths = [x.shape[1] for x in xs]
    t_max = max(lengths)
    batch = np.zeros((len(xs), xs[0].shape[0], t_max), dtype=np.float32)
    mask = np.zeros((len(xs), 1, t_max), dtype=np.float32)
    for i, x in enumerate(xs):
        batch[i, :, : x.shape[1]] = x
        mask[i, :, : x.shape[1]] = 1.0
    bx = torch.from_numpy(batch).to(device)
    out = model(bx, torch.from_numpy(mask).to(device) if len(xs) > 1 else None)
    zs = [model.compensate(out[i, :, :n].T) for i, n in enumerate(lengths)]
    blend = [i for i, r in enumerate(index_rates) if r > 0]
    if index is not None and blend:
        found = torch.split(
            retrieve(torch.cat([zs[i] for i in blend]), index), [lengths[i] for i in blend]
        )
        for i, near in zip(blend, found, strict=True):
            zs[i] = (1 - index_rates[i]) * zs[i] + index_rates[i] * near
    results = []
    for i, (z, protect) in enumerate(zip(zs, protects, strict=True)):
        if protect > 0:
            xi = bx[i, :, : lengths[i]]
            unvoiced = (xi[-2] < 0.5)[:, None]
            z = torch.where(unvoiced, (1 - protect) * z + protect * xi[:-3].T, z)
        results.append(np.asarray(z.double().cpu().numpy()))
    return results
