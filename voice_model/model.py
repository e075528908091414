"""A trained creator voice: what it holds, how it is stored, how it renders one chunk.

``VoiceModel`` holds the feature config, the creator's ``SpeakerStats`` and, for the
neural method, the envelope decoder's weights and the retrieval index ``(N, Z)``.
``render`` turns the WORLD features ``(T, ...)`` of one chunk of a fan's input into
float32 audio ``(samples,)`` at ``cfg.sample_rate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import torch

from voice_model import artifact, synth
from voice_model.baseline import Mode, SourcePlan, convert_features, warp_mcep
from voice_model.errors import ModelError
from voice_model.features import (
    F64,
    FeatureConfig,
    Features,
    SpeakerStats,
    decode_mcep,
    synthesize,
)
from voice_model.neural import DecoderConfig, EnvelopeDecoder, decode, decoder_input

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
        index_rate: float = 0.5,
        protect: float = 0.33,
        sample_offset: int = 0,
        phase_anchor: tuple[int, torch.Tensor] | None = None,
    ) -> Rendered:
        """Converted audio ``(n_samples,)`` for one chunk's features."""
        cfg = self.cfg
        if self.decoder is None:
            conv = convert_features(feats, self.target, plan, cfg)
            y = synthesize(conv.f0, decode_mcep(conv.mcep, cfg), conv.ap, cfg)
            return Rendered(_fit(y, n_samples))
        mcep_w, _ = warp_mcep(feats, plan.warp, cfg)
        f0_out = plan.pitch.apply(feats.f0)
        x = decoder_input(mcep_w, plan.warped, f0_out, self.target)
        index = None
        if self.index is not None and index_rate > 0:
            index = self._index_tensor()
        z = decode(
            self.decoder, x, index, index_rate=index_rate, protect=protect, device=self.device
        )
        mcep = np.concatenate(
            [mcep_w[:, :1], z * self.target.mcep_std[1:] + self.target.mcep_mean[1:]], axis=1
        )
        return self._ddsp(
            f0_out, decode_mcep(mcep, cfg), feats.ap, n_samples, sample_offset, phase_anchor
        )

    def _index_tensor(self) -> torch.Tensor:
        cached: torch.Tensor | None = getattr(self, "_index_cache", None)
        if cached is None:
            assert self.index is not None
            cached = torch.from_numpy(self.index).to(self.device)
            self._index_cache = cached
        return cached

    def _ddsp(
        self,
        f0: F64,
        sp: F64,
        ap: F64,
        n_samples: int,
        sample_offset: int,
        phase_anchor: tuple[int, torch.Tensor] | None,
    ) -> Rendered:
        dev = self.device
        with torch.inference_mode():
            audio, phase = synth.synthesize(
                torch.from_numpy(f0).float().to(dev)[None],
                torch.from_numpy(sp).float().to(dev)[None],
                torch.from_numpy(ap).float().to(dev)[None],
                sample_rate=self.cfg.sample_rate,
                hop=self.cfg.hop,
                sample_offset=sample_offset,
                phase_anchor=phase_anchor,
            )
        out = audio[0].cpu().numpy().astype(np.float32)
        ph = phase[0]
        if ph.shape[0] < n_samples:
            step = ph[-1:] - ph[-2:-1] if ph.shape[0] > 1 else torch.zeros(1, dtype=ph.dtype)
            extra = torch.arange(1, n_samples - ph.shape[0] + 1, dtype=ph.dtype, device=ph.device)
            ph = torch.cat([ph, ph[-1] + step * extra])
        return Rendered(_fit(out, n_samples), ph[:n_samples])


def _fit(y: F32, n: int) -> F32:
    """Trim or zero-pad ``y`` to ``n`` samples (synthesis ends at the last frame centre)."""
    if y.shape[0] >= n:
        return np.ascontiguousarray(y[:n], dtype=np.float32)
    return np.concatenate([y, np.zeros(n - y.shape[0], dtype=np.float32)])
