"""A trained creator voice: what it holds, how it is stored, how it renders one chunk.

``VoiceModel`` holds the feature config, the creator's ``SpeakerStats`` and, for the
neural method, the envelope decoder's weights and the retrieval index ``(N, Z)``.
``render`` turns the WORLD features ``(T, ...)`` of one chunk of a fan's input into
float32 audio ``(samples,)`` at ``cfg.sample_rate``; ``render_batch`` renders several chunks
(of one input or of several) in one padded pass of the decoder, the retrieval and the DDSP
synthesiser, each chunk coming out as when rendered alone (up to float rounding: batched
kernels may round the last bit differently).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from voice_model import artifact, synth
from voice_model.baseline import Mode, SourcePlan, convert_features, warp_mcep
from voice_model.defaults import DEFAULT_INDEX_RATE, DEFAULT_PROTECT
from voice_model.errors import ModelError
from voice_model.features import (
    F64,
    FeatureConfig,
    Features,
    SpeakerStats,
    decode_mcep,
    synthesize,
)
from voice_model.neural import DecoderConfig, EnvelopeDecoder, decode_batch, decoder_input

Method = Literal["baseline", "neural"]
F32 = npt.NDArray[np.float32]


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Rendered:
    """One chunk's audio ``(samples,)`` and, for the DDSP synthesiser, its pulse phase."""

    audio: F32
    phase: torch.Tensor | None = None


@dataclass
class RenderRequest:
    """One chunk to render: its features and how to convert them (see ``VoiceModel.render``)."""

    feats: Features
    plan: SourcePlan
    n_samples: int
    index_rate: float = DEFAULT_INDEX_RATE
    protect: float = DEFAULT_PROTECT
    sample_offset: int = 0
    phase_anchor: tuple[int, torch.Tensor] | None = None


@dataclass
class VoiceModel:
    method: Method
    mode: Mode
    cfg: FeatureConfig
    target: SpeakerStats
    decoder: EnvelopeDecoder | None = None
    decoder_cfg: DecoderConfig | None = None
    index: F32 | None = None
    card: dict[str, Any] = field(default_factory=dict)
    model_id: str | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    # -- storage -------------------------------------------------------------------------
    def save(self, out_dir: Path) -> str:
        tensors: dict[str, npt.NDArray[Any]] = dict(self.target.to_arrays("target."))
        if self.decoder is not None:
            for k, v in self.decoder.state_dict().items():
                tensors[f"decoder.{k}"] = v.detach().float().cpu().numpy()
        if self.index is not None:
            tensors["index"] = self.index
        card = {
            **self.card,
            "method": self.method,
            "mode": self.mode,
            "sample_rate": self.cfg.sample_rate,
            "feature_config": self.cfg.to_dict(),
        }
        if self.decoder_cfg is not None:
            card["decoder_config"] = {
                "hidden": self.decoder_cfg.hidden,
                "layers": self.decoder_cfg.layers,
            }
        self.model_id = artifact.save_artifact(out_dir, card, tensors)
        self.card = card
        return self.model_id

    @classmethod
    def load(
        cls, model_dir: Path, *, expected_sha256: str | None = None, device: str = "auto"
    ) -> VoiceModel:
        model_id, card, tensors = artifact.load_artifact(model_dir, expected_sha256=expected_sha256)
        dev = pick_device(device)
        try:
            cfg = FeatureConfig.from_dict(card["feature_config"])
            method, mode = card["method"], card["mode"]
            target = SpeakerStats.from_arrays(tensors, "target.")
            decoder, dcfg = None, None
            if method == "neural":
                dc = card["decoder_config"]
                dcfg = DecoderConfig(hidden=int(dc["hidden"]), layers=int(dc["layers"]))
                z = cfg.mcep_dims - 1
                decoder = EnvelopeDecoder(z + 3, z, dcfg.hidden, dcfg.layers)
                state = {
                    k.removeprefix("decoder."): torch.from_numpy(v.copy())
                    for k, v in tensors.items()
                    if k.startswith("decoder.")
                }
                decoder.load_state_dict(state)
                decoder.to(dev).eval()
            elif method != "baseline":
                raise ModelError(f"Unknown method {method!r} in the model card.")
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError("The model card or weights are incomplete.", reason=str(exc)) from exc
        return cls(
            method=method,
            mode=mode,
            cfg=cfg,
            target=target,
            decoder=decoder,
            decoder_cfg=dcfg,
            index=tensors.get("index"),
            card=card,
            model_id=model_id,
            device=dev,
        )

    # -- rendering -----------------------------------------------------------------------
    def render(
        self,
        feats: Features,
        plan: SourcePlan,
        *,
        n_samples: int,
        index_rate: float = DEFAULT_INDEX_RATE,
        protect: float = DEFAULT_PROTECT,
        sample_offset: int = 0,
        phase_anchor: tuple[int, torch.Tensor] | None = None,
    ) -> Rendered:
        """Converted audio ``(n_samples,)`` for one chunk's features."""
        req = RenderRequest(
            feats, plan, n_samples, index_rate, protect, sample_offset, phase_anchor
        )
        return self.render_batch([req])[0]

    def render_batch(self, requests: Sequence[RenderRequest]) -> list[Rendered]:
        """Render several chunks at once; each result equals ``render`` of that chunk alone, up
        to float rounding (about 1e-7 relative).

        For the neural method the decoder, the retrieval and the DDSP synthesiser each run once
        over the batch, padded to its longest chunk (on ``self.device``); the baseline's WORLD
        synthesis has no batched form and renders the chunks one by one.
        """
        if not requests:
            return []
        cfg = self.cfg
        if self.decoder is None:
            out = []
            for r in requests:
                conv = convert_features(r.feats, self.target, r.plan, cfg)
                y = synthesize(conv.f0, decode_mcep(conv.mcep, cfg), conv.ap, cfg)
                out.append(Rendered(_fit(y, r.n_samples)))
            return out
        xs, f0s, mceps = [], [], []
        for r in requests:
            mcep_w, _ = warp_mcep(r.feats, r.plan.warp, cfg)
            f0_out = r.plan.pitch.apply(r.feats.f0)
            xs.append(decoder_input(mcep_w, r.plan.warped, f0_out, self.target))
            f0s.append(f0_out)
            mceps.append(mcep_w)
        rates = [r.index_rate if self.index is not None else 0.0 for r in requests]
        zs = decode_batch(
            self.decoder,
            xs,
            self._index_tensor() if any(rate > 0 for rate in rates) else None,
            index_rates=rates,
            protects=[r.protect for r in requests],
            device=self.device,
        )
        sps = []
        for mcep_w, z in zip(mceps, zs, strict=True):
            mcep = np.concatenate(
                [mcep_w[:, :1], z * self.target.mcep_std[1:] + self.target.mcep_mean[1:]], axis=1
            )
            sps.append(decode_mcep(mcep, cfg))
        return self._ddsp(requests, f0s, sps)

    def phase_track(self, req: RenderRequest) -> torch.Tensor | None:
        """The pulse phase (cycles, ``(n_samples,)``) that rendering ``req`` will use, without
        rendering it; None for the baseline. Lets a caller anchor the next chunk of an input
        before this one is rendered, so consecutive chunks can share a batch."""
        if self.decoder is None:
            return None
        f0 = torch.from_numpy(req.plan.pitch.apply(req.feats.f0)).float().to(self.device)[None]
        n = (f0.shape[1] - 1) * self.cfg.hop
        f0s = synth.upsample_frames(
            torch.where(f0 > 0, f0, synth.UNVOICED_PHASE_HZ), self.cfg.hop, n
        )
        phase = synth.pulse_phase_rows(f0s, self.cfg.sample_rate, [req.phase_anchor])[0]
        return _extend_phase(phase, req.n_samples)

    def _index_tensor(self) -> torch.Tensor:
        cached: torch.Tensor | None = getattr(self, "_index_cache", None)
        if cached is None:
            assert self.index is not None
            cached = torch.from_numpy(self.index).to(self.device)
            self._index_cache = cached
        return cached

    def nbytes(self) -> int:
        """Bytes the loaded model holds: decoder weights, retrieval index, statistics."""
        total = sum(a.nbytes for a in self.target.to_arrays("").values())
        if self.decoder is not None:
            total += sum(t.numel() * t.element_size() for t in self.decoder.state_dict().values())
        if self.index is not None:
            # host copy, plus the device copy the first retrieval makes
            total += self.index.nbytes * (2 if self.device.type != "cpu" else 1)
        return int(total)

    def _ddsp(
        self, requests: Sequence[RenderRequest], f0s: list[F64], sps: list[F64]
    ) -> list[Rendered]:
        dev = self.device
        frames = [f.shape[0] for f in f0s]
        t_max, n_bins = max(frames), sps[0].shape[1]
        f0 = np.zeros((len(frames), t_max), dtype=np.float32)
        sp = np.zeros((len(frames), t_max, n_bins), dtype=np.float32)
        ap = np.zeros((len(frames), t_max, n_bins), dtype=np.float32)
        for i, r in enumerate(requests):
            f0[i, : frames[i]] = f0s[i]
            sp[i, : frames[i]] = sps[i]
            ap[i, : frames[i]] = r.feats.ap
        with torch.inference_mode():
            audio, phase = synth.synthesize_padded(
                torch.from_numpy(f0).to(dev),
                torch.from_numpy(sp).to(dev),
                torch.from_numpy(ap).to(dev),
                frames,
                sample_rate=self.cfg.sample_rate,
                hop=self.cfg.hop,
                sample_offsets=[r.sample_offset for r in requests],
                phase_anchors=[r.phase_anchor for r in requests],
            )
        return [
            Rendered(
                _fit(y.cpu().numpy().astype(np.float32), r.n_samples),
                _extend_phase(ph, r.n_samples),
            )
            for y, ph, r in zip(audio, phase, requests, strict=True)
        ]


def _extend_phase(ph: torch.Tensor, n_samples: int) -> torch.Tensor:
    """Continue a phase track past the last frame centre at its final rate, to ``n_samples``."""
    if ph.shape[0] < n_samples:
        step = ph[-1:] - ph[-2:-1] if ph.shape[0] > 1 else torch.zeros(1, dtype=ph.dtype)
        extra = torch.arange(1, n_samples - ph.shape[0] + 1, dtype=ph.dtype, device=ph.device)
        ph = torch.cat([ph, ph[-1] + step * extra])
    return ph[:n_samples]


def _fit(y: F32, n: int) -> F32:
    """Trim or zero-pad ``y`` to ``n`` samples (synthesis ends at the last frame centre)."""
    if y.shape[0] >= n:
        return np.ascontiguousarray(y[:n], dtype=np.float32)
    return np.concatenate([y, np.zeros(n - y.shape[0], dtype=np.float32)])
