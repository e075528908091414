"""File-level conversion: streamed, chunked, overlap-added, loudness-matched, optionally mixed.

Memory is bounded by the chunk, not the input: the input is decoded in blocks and
resampled as a stream (soxr) to the model rate; chunks of ``chunk_s`` seconds are read
with ``overlap_s`` of context on each side; each chunk's output is used only ``margin_s``
away from its window edges, and neighbouring chunks are cross-faded linearly over the
remaining ``2 * (overlap_s - margin_s)`` seconds. Everything that depends on position is
made position-invariant (frame grid aligned to the hop, noise read at the absolute
sample index, pulse phase handed over from the previous chunk), so chunked output equals
whole-file output away from the cross-fades.

The mapping of the input (pitch plan, formant warp, source statistics) is measured once on
the first ``plan_excerpt_s`` seconds. The output is gain-matched to the input's BS.1770
loudness, then (optionally) mixed with an accompaniment file, and written at the input's
sample rate (or ``out_sample_rate``).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr  # type: ignore[import-untyped]
import torch

from voice_model.audio import LoudnessMeter, load, probe
from voice_model.baseline import SourcePlan, plan_source
from voice_model.errors import AudioTooShort
from voice_model.features import analyze
from voice_model.model import F32, VoiceModel

Progress = Callable[[float, str], None]
MAX_INPUT_S = 15 * 60.0
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}


@dataclass
class ConvertOptions:
    transpose: float = 0.0  # semitones
    index_rate: float = 0.5  # 0 = decoder only, 1 = retrieved creator frames only
    protect: float = 0.33  # 0 = convert consonants fully, 1 = keep the source's
    chunk_s: float = 30.0
    overlap_s: float = 1.0
    margin_s: float = 0.5
    plan_excerpt_s: float = 60.0
    block_frames: int = 65_536
    out_sample_rate: int | None = None


@dataclass
class ConvertResult:
    out: Path
    duration_s: float
    wall_s: float
    chunks: int
    sample_rate: int
    input_lufs: float
    output_gain_db: float

    @property
    def rtf(self) -> float:
        return self.wall_s / self.duration_s if self.duration_s else math.inf


def stream_mono(
    path: Path, sample_rate: int, block_frames: int, channels: int = 1
) -> Iterator[F32]:
    """Decode ``path`` in blocks, resampled as a stream to ``sample_rate``.

    Yields ``(samples,)`` mono blocks when ``channels == 1`` (channels averaged), else
    ``(channels, samples)`` (mono input duplicated).
    """
    with sf.SoundFile(str(path)) as fh:
        rs = (
            None
            if fh.samplerate == sample_rate
            else soxr.ResampleStream(fh.samplerate, sample_rate, channels, dtype="float32")
        )
        while True:
            block = fh.read(block_frames, dtype="float32", always_2d=True)
            last = block.shape[0] < block_frames
            if channels == 1:
                x = block.mean(axis=1)
            elif block.shape[1] == channels:
                x = block
            else:
                x = np.repeat(block.mean(axis=1, keepdims=True), channels, axis=1)
            y = x if rs is None else rs.resample_chunk(np.ascontiguousarray(x), last=last)
            if y.shape[0]:
                yield np.ascontiguousarray(y.T if channels > 1 else y, dtype=np.float32)
            if last:
                return


def make_plan(model: VoiceModel, path: Path, opts: ConvertOptions) -> SourcePlan:
    """Measure the input on its first ``plan_excerpt_s`` seconds."""
    excerpt = load(path, sample_rate=model.cfg.sample_rate, duration_s=opts.plan_excerpt_s)
    feats = analyze(excerpt, model.cfg, device=str(model.device))
    if not (feats.f0 > 0).any():
        raise AudioTooShort("No voiced sound was found in the input to convert.")
    return plan_source(feats, model.target, model.cfg, mode=model.mode, transpose=opts.transpose)


def _convert_stream(
    model: VoiceModel,
    source: Iterator[F32],
    plan: SourcePlan,
    opts: ConvertOptions,
    total_hint: int,
    sink: Callable[[F32], None],
    progress: Progress,
) -> int:
    """Chunked conversion of a mono stream at the model rate; returns the chunk count."""
    cfg, hop = model.cfg, model.cfg.hop
    chunk = max(1, round(opts.chunk_s * cfg.sample_rate / hop)) * hop
    overlap = round(opts.overlap_s * cfg.sample_rate / hop) * hop
    margin = min(round(opts.margin_s * cfg.sample_rate / hop) * hop, overlap)
    if chunk < 2 * overlap:
        raise ValueError("chunk_s must be at least twice overlap_s")
    buf = np.zeros(0, dtype=np.float32)
    buf_start, eof = 0, False
    tail: F32 | None = None  # previous chunk's output over the coming cross-fade
    prev_phase: torch.Tensor | None = None  # previous chunk's phase, from prev_phase_start
    prev_phase_start = 0
    k = 0
    while True:
        win_start, win_end = max(0, k * chunk - overlap), (k + 1) * chunk + overlap
        while not eof and buf_start + buf.shape[0] < win_end:
            try:
                buf = np.concatenate([buf, next(source)])
            except StopIteration:
                eof = True
        total = buf_start + buf.shape[0]
        if k * chunk >= total and k > 0:
            break
        last = eof and win_end >= total
        win_end = min(win_end, total)
        x = buf[win_start - buf_start : win_end - buf_start]
        feats = analyze(x, cfg, device=str(model.device))
        valid_start = win_start + margin if k > 0 else 0
        anchor = None
        if prev_phase is not None:
            anchor = (valid_start - win_start, prev_phase[valid_start - prev_phase_start])
        out = model.render(
            feats,
            plan,
            n_samples=x.shape[0],
            index_rate=opts.index_rate,
            protect=opts.protect,
            sample_offset=win_start,
            phase_anchor=anchor,
        )
        y = out.audio
        fade_end = k * chunk + overlap - margin  # end of the cross-fade with chunk k-1
        if tail is not None and fade_end > valid_start:
            n = fade_end - valid_start
            ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
            own = y[valid_start - win_start : fade_end - win_start]
            sink((tail[:n] * (1.0 - ramp) + own * ramp).astype(np.float32))
            emit_from = fade_end
        else:
            emit_from = valid_start
        next_fade = (k + 1) * chunk - overlap + margin
        emit_to = win_end if last else next_fade
        sink(y[emit_from - win_start : emit_to - win_start])
        if last:
            return k + 1
        tail = y[next_fade - win_start : win_end - margin - win_start]
        if out.phase is not None:
            prev_phase, prev_phase_start = out.phase, win_start
        # Drop what no later chunk needs.
        keep_from = (k + 1) * chunk - overlap
        buf = buf[keep_from - buf_start :]
        buf_start = keep_from
        k += 1
        progress(min(0.99, (k * chunk) / max(total_hint, 1)), f"converting chunk {k}")
    return k


def convert_file(
    model: VoiceModel,
    input_path: Path,
    out_path: Path,
    *,
    options: ConvertOptions | None = None,
    accompaniment: Path | None = None,
    progress: Progress | None = None,
) -> ConvertResult:
    """Convert the vocal at ``input_path`` to the model's voice and write ``out_path``."""
    opts = options or ConvertOptions()
    report = progress or (lambda _f, _s: None)
    started = time.perf_counter()
    info = probe(Path(input_path), max_duration_s=MAX_INPUT_S, min_duration_s=0.25)
    if accompaniment is not None:
        probe(Path(accompaniment), max_duration_s=MAX_INPUT_S)
    out_path = Path(out_path)
    fmt = _FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported output extension: {out_path.suffix!r}")
    sr = model.cfg.sample_rate
    out_sr = opts.out_sample_rate or info.sample_rate
    report(0.0, "measuring the input")
    plan = make_plan(model, Path(input_path), opts)
    in_meter, out_meter = LoudnessMeter(sr), LoudnessMeter(sr)

    def metered(blocks: Iterator[F32]) -> Iterator[F32]:
        for b in blocks:
            in_meter.feed(b)
            yield b

    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "converted.wav"
        with sf.SoundFile(str(raw), "w", sr, 1, subtype="FLOAT") as fh:

            def sink(block: F32) -> None:
                out_meter.feed(block)
                fh.write(block)

            chunks = _convert_stream(
                model,
                metered(stream_mono(Path(input_path), sr, opts.block_frames)),
                plan,
                opts,
                int(info.duration_s * sr),
                sink,
                report,
            )
        gain_db = in_meter.loudness() - out_meter.loudness()
        if not math.isfinite(gain_db):
            gain_db = 0.0
        report(0.99, "mixing" if accompaniment else "writing")
        _write_output(raw, out_path, fmt, out_sr, 10 ** (gain_db / 20), accompaniment, opts)
    report(1.0, "done")
    return ConvertResult(
        out=out_path,
        duration_s=info.duration_s,
        wall_s=time.perf_counter() - started,
        chunks=chunks,
        sample_rate=out_sr,
        input_lufs=in_meter.loudness(),
        output_gain_db=gain_db,
    )


def _soft_limit(x: F32) -> F32:
    """Identity below 0.9 full scale, a tanh knee above, never beyond ±1."""
    a = np.abs(x)
    knee = 0.9
    over = a > knee
    if not over.any():
        return x
    y = x.copy()
    y[over] = np.sign(x[over]) * (knee + (1 - knee) * np.tanh((a[over] - knee) / (1 - knee)))
    return y


def _write_output(
    raw: Path,
    out_path: Path,
    fmt: str,
    out_sr: int,
    gain: float,
    accompaniment: Path | None,
    opts: ConvertOptions,
) -> None:
    """Stream ``raw`` (model rate) → gain → resample → + accompaniment → ``out_path``."""
    channels = 1
    if accompaniment is not None:
        channels = min(2, sf.info(str(accompaniment)).channels)
    voc = stream_mono(raw, out_sr, opts.block_frames, channels=channels)
    acc = (
        stream_mono(accompaniment, out_sr, opts.block_frames, channels=channels)
        if accompaniment is not None
        else iter(())
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    try:
        with sf.SoundFile(str(tmp), "w", out_sr, channels, subtype=subtype, format=fmt) as fh:
            pend_v = np.zeros((channels, 0), dtype=np.float32)
            pend_a = np.zeros((channels, 0), dtype=np.float32)
            v_done = a_done = False
            while not (v_done and a_done and pend_v.shape[1] == 0 and pend_a.shape[1] == 0):
                if not v_done and pend_v.shape[1] < opts.block_frames:
                    nxt = next(voc, None)
                    v_done = nxt is None
                    if nxt is not None:
                        pend_v = np.concatenate([pend_v, np.atleast_2d(nxt) * gain], axis=1)
                if not a_done and pend_a.shape[1] < opts.block_frames:
                    nxt = next(acc, None)
                    a_done = nxt is None
                    if nxt is not None:
                        pend_a = np.concatenate([pend_a, np.atleast_2d(nxt)], axis=1)
                # Emit what both streams have (or all of one once the other has ended).
                n = min(
                    pend_v.shape[1] if not v_done else max(pend_v.shape[1], pend_a.shape[1]),
                    pend_a.shape[1] if not a_done else max(pend_v.shape[1], pend_a.shape[1]),
                )
                if n == 0:
                    continue
                mix = np.zeros((channels, n), dtype=np.float32)
                mix[:, : min(n, pend_v.shape[1])] += pend_v[:, :n]
                mix[:, : min(n, pend_a.shape[1])] += pend_a[:, :n]
                pend_v, pend_a = pend_v[:, n:], pend_a[:, n:]
                fh.write(_soft_limit(mix).T)
        tmp.replace(out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
