"""Train a creator's ``VoiceModel`` from their reference recordings.

Input: audio files (any format ``probe`` accepts), at most ``max_minutes`` in total; every
file is validated with ``check_training_audio`` (clipping included). Output: a
``VoiceModel`` whose card lists every file's sha256 and duration (s) and the training
metrics (wall seconds, frames, decoder loss).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from voice_model.artifact import sha256_file
from voice_model.audio import check_training_audio, load, probe
from voice_model.baseline import Mode
from voice_model.errors import AudioTooShort
from voice_model.features import FeatureConfig, Features, analyze, speaker_stats
from voice_model.model import F32, Method, VoiceModel, pick_device
from voice_model.neural import DecoderConfig, build_index, build_training_set, train_decoder

Progress = Callable[[float, str], None]
MIN_TOTAL_S = 5.0


def _concat(feats: list[Features]) -> Features:
    return Features(
        f0=np.concatenate([f.f0 for f in feats]),
        sp=np.concatenate([f.sp for f in feats]),
        ap=np.concatenate([f.ap for f in feats]),
        mcep=np.concatenate([f.mcep for f in feats]),
        loudness_db=np.concatenate([f.loudness_db for f in feats]),
    )


def train(
    references: list[Path],
    *,
    method: Method = "neural",
    mode: Mode = "speech",
    device: str = "auto",
    max_minutes: float = 10.0,
    cfg: FeatureConfig | None = None,
    decoder_cfg: DecoderConfig | None = None,
    progress: Progress | None = None,
) -> VoiceModel:
    """Fit the creator's statistics (and for ``neural`` the decoder and index)."""
    cfg = cfg or FeatureConfig()
    dcfg = decoder_cfg or DecoderConfig()
    dev = pick_device(device)
    started = time.perf_counter()
    report = progress or (lambda _f, _s: None)
    budget = max_minutes * 60.0
    audios: list[F32] = []
    feats: list[Features] = []
    data: list[dict[str, object]] = []
    for i, path in enumerate(references):
        if budget <= 0:
            break
        report(0.3 * i / len(references), f"analysing {Path(path).name}")
        info = probe(Path(path), min_duration_s=1.0)
        audio = load(
            Path(path), sample_rate=cfg.sample_rate, duration_s=min(info.duration_s, budget)
        )
        check_training_audio(audio, cfg.sample_rate)
        budget -= audio.shape[0] / cfg.sample_rate
        audios.append(audio)
        feats.append(analyze(audio, cfg, device=str(dev)))
        data.append(
            {
                "sha256": sha256_file(Path(path)),
                "duration_s": round(audio.shape[0] / cfg.sample_rate, 3),
            }
        )
    total = sum(a.shape[0] for a in audios) / cfg.sample_rate
    if total < MIN_TOTAL_S:
        raise AudioTooShort(
            f"{total:.1f} s of reference audio is not enough; give at least {MIN_TOTAL_S:.0f} s "
            "(3 to 10 minutes is best).",
            duration_s=total,
            min_duration_s=MIN_TOTAL_S,
        )
    creator = _concat(feats)
    target = speaker_stats([creator])
    metrics: dict[str, float] = {"reference_seconds": round(total, 3), "frames": len(creator)}
    model = VoiceModel(method=method, mode=mode, cfg=cfg, target=target, device=dev)
    if method == "neural":
        xs, ys = [], []
        for i, (audio, f) in enumerate(zip(audios, feats, strict=True)):

            def sub(fr: float, st: str, i: int = i) -> None:
                report(0.3 + 0.2 * (i + fr) / len(audios), st)

            x, y = build_training_set(
                audio, f, target, cfg, replace(dcfg, seed=dcfg.seed + i), progress=sub
            )
            xs += x
            ys += y
        decoder, dm = train_decoder(
            xs, ys, dcfg, device=dev, progress=lambda fr, st: report(0.5 + 0.5 * fr, st)
        )
        model.decoder, model.decoder_cfg = decoder, dcfg
        model.index = build_index(creator, target)
        metrics.update(dm)
    metrics["train_seconds"] = round(time.perf_counter() - started, 2)
    metrics["torch_threads"] = torch.get_num_threads()
    model.card = {"training_data": data, "training_metrics": metrics, "device": str(dev)}
    report(1.0, "done")
    return model
