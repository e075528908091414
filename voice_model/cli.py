"""``python -m voice_model train|convert|evaluate``: the service and the benchmark use this.

Exit codes: 0 success, 2 usage error, 3 unusable audio (``AudioError``), 4 unusable model
(``ModelError``). Errors are printed as ``{"error": {"code", "message", "detail"}}`` JSON
on stderr so the service can relay them; progress goes to stderr as a text bar.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from voice_model.convert import ConvertOptions, convert_file
from voice_model.errors import AudioError, VoiceModelError
from voice_model.features import FeatureConfig
from voice_model.model import VoiceModel
from voice_model.neural import DecoderConfig


class ProgressBar:
    """A one-line text bar on stderr: ``[#####.....]  50% stage``."""

    def __init__(self, enabled: bool = True, width: int = 30) -> None:
        self.enabled, self.width = enabled, width
        self._last = ""

    def __call__(self, fraction: float, stage: str) -> None:
        if not self.enabled:
            return
        filled = int(self.width * max(0.0, min(1.0, fraction)))
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:3.0f}% {stage}"
        if line != self._last:
            sys.stderr.write(line.ljust(len(self._last)))
            sys.stderr.flush()
            self._last = line
        if fraction >= 1.0:
            sys.stderr.write("\n")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m voice_model", description=__doc__)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a creator's voice from reference audio")
    t.add_argument("--reference", type=Path, nargs="+", required=True)
    t.add_argument("--out", type=Path, required=True, help="artifact directory")
    t.add_argument("--method", choices=["baseline", "neural"], default="neural")
    t.add_argument("--mode", choices=["speech", "singing"], default="speech")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    t.add_argument("--max-minutes", type=float, default=10.0)
    t.add_argument("--steps", type=int, default=DecoderConfig.steps, help="decoder steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument(
        "--pitch-method",
        choices=["world", "fcpe"],
        default="world",
        help="F0 tracker (fcpe: torchfcpe's shipped model); stored in the model card",
    )

    c = sub.add_parser("convert", help="convert a vocal to a trained voice")
    c.add_argument("--model", type=Path, required=True, help="artifact directory")
    c.add_argument("--model-sha256", default=None, help="expected artifact id")
    c.add_argument("--input", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--transpose", type=float, default=0.0, help="semitones")
    c.add_argument("--index-rate", type=float, default=ConvertOptions.index_rate)
    c.add_argument("--protect", type=float, default=ConvertOptions.protect)
    c.add_argument("--accompaniment", type=Path, default=None)
    c.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    c.add_argument("--chunk-seconds", type=float, default=ConvertOptions.chunk_s)

    e = sub.add_parser("evaluate", help="train and score every roster pair")
    e.add_argument(
        "--methods", nargs="+", choices=["baseline", "neural"], default=["baseline", "neural"]
    )
    e.add_argument("--speakers", nargs="+", default=None, help="roster names (default: all)")
    e.add_argument("--train-sentences", type=int, default=40)
    e.add_argument("--test-sentences", type=int, default=4)
    e.add_argument("--steps", type=int, default=DecoderConfig.steps)
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    e.add_argument("--work", type=Path, default=Path("var/voice-eval"))
    e.add_argument(
        "--asr",
        nargs="*",
        choices=["whisper", "pocketsphinx"],
        default=["whisper", "pocketsphinx"],
        help="recognizers for WER, the first gives 'wer' (none: no WER)",
    )
    e.add_argument(
        "--index-rates",
        nargs="+",
        type=float,
        default=[ConvertOptions.index_rate],
        help="score the neural method at each rate (models trained once)",
    )
    e.add_argument("--json", action="store_true", help="print JSON only")
    return p


def _fail(err: VoiceModelError) -> int:
    print(json.dumps({"error": err.to_dict()}, default=str), file=sys.stderr)
    return 3 if isinstance(err, AudioError) else 4


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    bar = ProgressBar(enabled=not args.quiet and not getattr(args, "json", False))
    try:
        if args.command == "train":
            from voice_model.train import train

            model = train(
                list(args.reference),
                method=args.method,
                mode=args.mode,
                device=args.device,
                max_minutes=args.max_minutes,
                cfg=FeatureConfig(pitch_method=args.pitch_method),
                decoder_cfg=DecoderConfig(steps=args.steps, seed=args.seed),
                progress=bar,
            )
            model_id = model.save(args.out)
            out: dict[str, Any] = {"model_sha256": model_id, "out": str(args.out), **model.card}
            print(json.dumps(out, indent=2))
        elif args.command == "convert":
            model = VoiceModel.load(
                args.model, expected_sha256=args.model_sha256, device=args.device
            )
            result = convert_file(
                model,
                args.input,
                args.out,
                options=ConvertOptions(
                    transpose=args.transpose,
                    index_rate=args.index_rate,
                    protect=args.protect,
                    chunk_s=args.chunk_seconds,
                ),
                accompaniment=args.accompaniment,
                progress=bar,
            )
            print(
                json.dumps(
                    {
                        "out": str(result.out),
                        "model_sha256": model.model_id,
                        "duration_s": round(result.duration_s, 3),
                        "wall_s": round(result.wall_s, 3),
                        "rtf": round(result.rtf, 4),
                        "chunks": result.chunks,
                        "sample_rate": result.sample_rate,
                    }
                )
            )
        else:
            from voice_model.evaluate import EvalConfig, format_table, run_evaluation

            report = run_evaluation(
                EvalConfig(
                    methods=tuple(args.methods),
                    speakers=tuple(args.speakers) if args.speakers else None,
                    train_sentences=args.train_sentences,
                    test_sentences=args.test_sentences,
                    steps=args.steps,
                    device=args.device,
                    work=args.work,
                    asr=tuple(args.asr),
                    index_rates=tuple(args.index_rates),
                ),
                progress=bar,
            )
            if args.json:
                print(json.dumps(report, indent=2))
            else:
                print(format_table(report))
    except VoiceModelError as err:
        return _fail(err)
    return 0
