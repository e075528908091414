"""Voice-model benchmark: quality and speed of baseline vs neural, as the issue's targets ask.

Runs ``voice_model.evaluate`` over the Debian-voice roster (every ordered pair), then:

- long-input scaling: converts a 1-minute and a 10-minute input (44.1 kHz) and reports
  real-time factor and peak resident memory (MiB) of each conversion process;
- training time from ``--train-minutes`` of reference audio (neural, default steps);
- batched rendering: ``--batch`` chunks rendered one call each vs in one ``render_batch`` call
  (decoder + retrieval + DDSP synthesis; analysis excluded), as real-time factors, on the device
  in use. ``batched_render`` is shared with ``bench/jobs.py``.

Usage: ``.venv/bin/python bench/voice.py [--quick] [--device auto|cpu|cuda] [--json OUT]``.
Prints a table; ``--json`` also writes every figure to a file. Units: seconds, MiB, SECS
(cosine), WER (fraction), cents.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voice_model import roster
from voice_model.audio import save
from voice_model.defaults import DEFAULT_INDEX_RATE
from voice_model.evaluate import (
    INPUT_SR,
    EvalConfig,
    format_table,
    run_cli_measured,
    run_evaluation,
)
from voice_model.features import FeatureConfig, analyze


def _progress(fraction: float, stage: str) -> None:
    print(f"\r[{100 * fraction:5.1f}%] {stage:<60}", end="", file=sys.stderr, flush=True)


def _repeat_to(audio: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    n = int(seconds * sample_rate)
    reps = int(np.ceil(n / audio.shape[0]))
    return np.tile(audio, reps)[:n].astype(np.float32)


def long_inputs(
    work: Path, model_dir: Path, device: str, threads: int | None, minutes: list[float]
) -> list[dict[str, Any]]:
    """RTF and peak RSS of converting ``minutes``-long inputs with one model."""
    spk = next(s for s in roster.ROSTER if s.name == "rms")
    speech = roster.render_concat(
        spk, roster.TRAIN_SENTENCES[:10], sample_rate=INPUT_SR, cache_dir=work / "voices"
    )
    rows = []
    for m in minutes:
        path = save(
            work / "long" / f"in-{m:g}min.wav", _repeat_to(speech, m * 60, INPUT_SR), INPUT_SR
        )
        _progress(0.0, f"converting a {m:g}-minute input")
        out, rss = run_cli_measured(
            [
                "convert",
                "--model",
                str(model_dir),
                "--input",
                str(path),
                "--out",
                str(work / "long" / f"out-{m:g}min.wav"),
                "--device",
                device,
            ],
            threads,
        )
        rows.append(
            {
                "minutes": m,
                "rtf": out["rtf"],
                "wall_s": out["wall_s"],
                "peak_rss_mib": round(rss, 1),
                "chunks": out["chunks"],
            }
        )
    return rows


def batched_render(
    work: Path,
    *,
    device: str = "auto",
    batch: int = 16,
    chunk_s: float | None = None,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """Rendering throughput of ``batch`` chunks: one ``render_batch`` call each (batch 1) vs
    one call for all (batch ``batch``), in the same run on the same device. Chunks differ in
    length by up to 15 % (the batch is padded). ``chunk_s`` defaults to the converter's 30 s
    on CUDA and 3 s on CPU (so the CPU run takes a minute, not half an hour). Without
    ``model_dir`` a neural model of the default architecture is trained briefly (throughput
    depends on the architecture, not on how well it is trained)."""
    import torch

    from voice_model.baseline import plan_source
    from voice_model.convert import ConvertOptions
    from voice_model.model import RenderRequest, VoiceModel, pick_device
    from voice_model.neural import DecoderConfig
    from voice_model.train import train

    dev = pick_device(device)
    cfg = FeatureConfig()
    chunk_s = chunk_s or (30.0 if dev.type == "cuda" else 3.0)
    cache = work / "voices"
    if model_dir is None:
        slt = next(s for s in roster.ROSTER if s.name == "slt")
        ref = save(
            work / "batch" / "ref.wav",
            roster.render_concat(
                slt, roster.TRAIN_SENTENCES[:8], sample_rate=cfg.sample_rate, cache_dir=cache
            ),
            cfg.sample_rate,
        )
        _progress(0.0, "training a model for the batched-rendering figure")
        model_dir = work / "batch" / "model"
        train([ref], method="neural", device=str(dev), decoder_cfg=DecoderConfig(steps=50)).save(
            model_dir
        )
    model = VoiceModel.load(model_dir, device=str(dev))
    rms = next(s for s in roster.ROSTER if s.name == "rms")
    speech = roster.render_concat(
        rms, roster.TRAIN_SENTENCES[:12], sample_rate=cfg.sample_rate, cache_dir=cache
    )
    long = _repeat_to(speech, chunk_s * batch + 60.0, cfg.sample_rate)
    plan = plan_source(analyze(speech, cfg, device=str(dev)), model.target, cfg, mode=model.mode)
    opts = ConvertOptions()
    requests = []
    for i in range(batch):
        _progress(i / batch, "analysing chunks for the batched-rendering figure")
        n = int(chunk_s * (1.0 - 0.15 * i / max(batch - 1, 1)) * cfg.sample_rate)
        start = int(i * chunk_s * cfg.sample_rate)
        x = long[start : start + n]
        requests.append(
            RenderRequest(
                analyze(x, cfg, device=str(dev)),
                plan,
                x.shape[0],
                index_rate=opts.index_rate,
                protect=opts.protect,
                sample_offset=start,
            )
        )
    audio_s = sum(r.n_samples for r in requests) / cfg.sample_rate

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize()

    model.render_batch(requests[:2])  # warm-up (kernels, caches, the index on the device)
    sync()
    _progress(0.5, "rendering one chunk per call")
    started = time.perf_counter()
    for r in requests:
        model.render_batch([r])
    sync()
    single = time.perf_counter() - started
    _progress(0.75, f"rendering {batch} chunks in one call")
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    model.render_batch(requests)
    sync()
    batched = time.perf_counter() - started
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor()
    out: dict[str, Any] = {
        "device": str(dev),
        "device_name": name or "cpu",
        "torch_threads": torch.get_num_threads(),
        "chunks": batch,
        "chunk_s": chunk_s,
        "audio_s": round(audio_s, 2),
        "batch_1": {
            "wall_s": round(single, 3),
            "chunks_per_s": round(batch / single, 3),
            "rtf": round(single / audio_s, 4),
        },
        f"batch_{batch}": {
            "wall_s": round(batched, 3),
            "chunks_per_s": round(batch / batched, 3),
            "rtf": round(batched / audio_s, 4),
        },
        "speedup": round(single / batched, 2),
    }
    if dev.type == "cuda":
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    return out


def training_time(
    work: Path, minutes: float, device: str, threads: int | None, steps: int
) -> dict[str, Any]:
    """Wall time of ``train --method neural`` from ``minutes`` of one speaker's audio."""
    cfg = FeatureConfig()
    spk = next(s for s in roster.ROSTER if s.name == "slt")
    speech = roster.render_concat(
        spk, roster.TRAIN_SENTENCES, sample_rate=cfg.sample_rate, cache_dir=work / "voices"
    )
    ref = save(
        work / "long" / f"ref-{minutes:g}min.wav",
        _repeat_to(speech, minutes * 60, cfg.sample_rate),
        cfg.sample_rate,
    )
    _progress(0.0, f"training from {minutes:g} minutes")
    started = time.perf_counter()
    card, rss = run_cli_measured(
        [
            "train",
            "--reference",
            str(ref),
            "--out",
            str(work / "long" / "model-5min"),
            "--method",
            "neural",
            "--device",
            device,
            "--steps",
            str(steps),
        ],
        threads,
    )
    return {
        "minutes": minutes,
        "wall_s": round(time.perf_counter() - started, 1),
        "train_seconds": card["training_metrics"]["train_seconds"],
        "steps": steps,
        "peak_rss_mib": round(rss, 1),
    }


def targets(report: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets for the neural method at the default index rate, each with the
    figure measured and whether it is met (None: not measured in this run)."""
    summary = report["evaluation"]["summary"]
    label = next((k for k in summary if k in ("neural", f"neural@{DEFAULT_INDEX_RATE:g}")), None)
    neural = summary.get(label, {}) if label else {}
    long_rows = report.get("long_inputs", [])
    memory_ratio = (
        long_rows[-1]["peak_rss_mib"] / long_rows[0]["peak_rss_mib"] if len(long_rows) > 1 else None
    )
    train_s = report.get("training_time", {}).get("wall_s")
    rows: dict[str, tuple[float | None, Callable[[float], bool]]] = {
        "secs_gain_mean >= 0.15": (neural.get("secs_gain_mean"), lambda v: v >= 0.15),
        "top1_accuracy >= 0.80": (neural.get("top1_accuracy"), lambda v: v >= 0.80),
        "wer_minus_source_mean <= 0.10": (
            neural.get("wer_minus_source_mean"),
            lambda v: v <= 0.10,
        ),
        "f0_within_50c_mean >= 0.90": (neural.get("f0_within_50c_mean"), lambda v: v >= 0.90),
        "rtf_mean <= 0.5 (CPU)": (neural.get("rtf_mean"), lambda v: v <= 0.5),
        "peak memory 10 min / 1 min < 2": (memory_ratio, lambda v: v < 2.0),
        "training from 5 min <= 1200 s (CPU)": (train_s, lambda v: v <= 1200),
    }
    return {
        "method": label,
        "asr": report["evaluation"]["config"].get("asr", [None])[0],
        "figures": {
            name: {"value": value, "met": None if value is None else bool(ok(value))}
            for name, (value, ok) in rows.items()
        },
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 speakers, 12 training sentences")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="decoder steps (default: CLI's)")
    p.add_argument("--work", type=Path, default=Path("var/voice-bench"))
    p.add_argument("--json", type=Path, default=None, help="write all figures here")
    p.add_argument("--skip-long", action="store_true", help="no 1/10-minute conversions")
    p.add_argument("--skip-train-time", action="store_true")
    p.add_argument("--train-minutes", type=float, default=5.0)
    p.add_argument("--skip-batched", action="store_true", help="no batched-rendering figure")
    p.add_argument("--batch", type=int, default=16, help="chunks per batch (batched figure)")
    p.add_argument(
        "--index-rates",
        nargs="+",
        type=float,
        default=None,
        help="score the neural method at each rate, from the same models (default: the CLI's)",
    )
    args = p.parse_args()
    if args.threads:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    from voice_model.neural import DecoderConfig

    steps = args.steps or DecoderConfig.steps
    cfg = EvalConfig(
        speakers=("awb", "rms", "slt") if args.quick else None,
        train_sentences=12 if args.quick else 40,
        test_sentences=2 if args.quick else 4,
        steps=steps,
        device=args.device,
        work=args.work,
        threads=args.threads,
    )
    if args.index_rates:
        cfg = dataclasses.replace(cfg, index_rates=tuple(args.index_rates))
    report: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "evaluation": run_evaluation(cfg, progress=_progress),
    }
    if not args.skip_long:
        first = report["evaluation"]["config"]["speakers"][0]
        model_dir = args.work / "models" / "neural" / first
        report["long_inputs"] = long_inputs(
            args.work, model_dir, args.device, args.threads, [1.0, 10.0]
        )
    if not args.skip_batched:
        first = report["evaluation"]["config"]["speakers"][0]
        report["batched_render"] = batched_render(
            args.work,
            device=args.device,
            batch=args.batch,
            model_dir=args.work / "models" / "neural" / first,
        )
    if not args.skip_train_time:
        report["training_time"] = training_time(
            args.work, args.train_minutes, args.device, args.threads, steps
        )
    report["targets"] = targets(report)
    print(file=sys.stderr)
    print(format_table(report["evaluation"]))
    for row in report.get("long_inputs", []):
        print(
            f"long input {row['minutes']:g} min: rtf {row['rtf']:.3f}, "
            f"peak RSS {row['peak_rss_mib']:.0f} MiB, {row['chunks']} chunks"
        )
    if "batched_render" in report:
        b = report["batched_render"]
        one, many = b["batch_1"], b[f"batch_{b['chunks']}"]
        print(
            f"batched rendering on {b['device']} ({b['device_name']}), {b['chunks']} chunks of "
            f"<= {b['chunk_s']:g} s: rtf {one['rtf']:.4f} one per call, {many['rtf']:.4f} "
            f"batched ({b['speedup']:.2f}x)"
        )
    if "training_time" in report:
        t = report["training_time"]
        print(
            f"training from {t['minutes']:g} min: {t['wall_s']:.0f} s wall "
            f"({t['steps']} steps), peak RSS {t['peak_rss_mib']:.0f} MiB"
        )
    for name, row in report["targets"]["figures"].items():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[row["met"]]
        value = "-" if row["value"] is None else f"{row['value']:.3f}"
        print(f"target {name:<38} {value:>10}  {verdict}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
