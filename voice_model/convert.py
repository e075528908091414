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

import contextlib
import math
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr  # type: ignore[import-untyped]
import torch

from voice_model.audio import LoudnessMeter, load, probe
from voice_model.baseline import SourcePlan, plan_source
from voice_model.defaults import DEFAULT_INDEX_RATE, DEFAULT_PROTECT
from voice_model.errors import AudioTooShort
from voice_model.features import analyze
from voice_model.model import F32, Rendered, RenderRequest, VoiceModel

Progress = Callable[[float, str], None]
Renderer = Callable[[list[RenderRequest]], list[Rendered]]
MAX_INPUT_S = 15 * 60.0
_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3"}


@dataclass
class ConvertOptions:
    transpose: float = 0.0  # semitones
    index_rate: float = DEFAULT_INDEX_RATE  # 0 = decoder only, 1 = retrieved creator frames
    protect: float = DEFAULT_PROTECT  # 0 = convert consonants fully, 1 = keep the source's
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


@dataclass(frozen=True)
class _Window:
    """Chunk ``k``: input samples ``[start, end)`` at the model rate; ``last`` ends the input."""

    k: int
    start: int
    end: int
    last: bool


class _ChunkedStream:
    """One input's chunked conversion in two halves, so chunks can be rendered in batches.

    ``requests()`` reads and analyses the input lazily and yields each chunk's render request
    in order; the pulse phase each chunk hands to the next is computed from the request alone
    (``VoiceModel.phase_track``), so a chunk never waits for its predecessor's rendering.
    ``accept()`` takes the rendered chunks in the same order and overlap-adds them into
    ``sink``.
    """

    def __init__(
        self,
        model: VoiceModel,
        source: Iterator[F32],
        plan: SourcePlan,
        opts: ConvertOptions,
        total_hint: int,
        sink: Callable[[F32], None],
        progress: Progress,
    ) -> None:
        cfg, hop = model.cfg, model.cfg.hop
        self.model, self.source, self.plan, self.opts = model, source, plan, opts
        self.total_hint, self.sink, self.progress = total_hint, sink, progress
        self.chunk = max(1, round(opts.chunk_s * cfg.sample_rate / hop)) * hop
        self.overlap = round(opts.overlap_s * cfg.sample_rate / hop) * hop
        self.margin = min(round(opts.margin_s * cfg.sample_rate / hop) * hop, self.overlap)
        if self.chunk < 2 * self.overlap:
            raise ValueError("chunk_s must be at least twice overlap_s")
        self.chunks = 0  # chunks accepted so far
        self._tail: F32 | None = None  # previous chunk's output over the coming cross-fade

    def requests(self) -> Iterator[tuple[_Window, RenderRequest]]:
        model, opts = self.model, self.opts
        chunk, overlap, margin = self.chunk, self.overlap, self.margin
        buf = np.zeros(0, dtype=np.float32)
        buf_start, eof = 0, False
        prev_phase: torch.Tensor | None = None  # previous chunk's phase, from prev_phase_start
        prev_phase_start = 0
        k = 0
        while True:
            win_start, win_end = max(0, k * chunk - overlap), (k + 1) * chunk + overlap
            while not eof and buf_start + buf.shape[0] < win_end:
                try:
                    buf = np.concatenate([buf, next(self.source)])
                except StopIteration:
                    eof = True
            total = buf_start + buf.shape[0]
            if k * chunk >= total and k > 0:
                return
            last = eof and win_end >= total
            win_end = min(win_end, total)
            x = buf[win_start - buf_start : win_end - buf_start]
            feats = analyze(x, model.cfg, device=str(model.device))
            valid_start = win_start + margin if k > 0 else 0
            anchor = None
            if prev_phase is not None:
                anchor = (valid_start - win_start, prev_phase[valid_start - prev_phase_start])
            req = RenderRequest(
                feats,
                self.plan,
                n_samples=x.shape[0],
                index_rate=opts.index_rate,
                protect=opts.protect,
                sample_offset=win_start,
                phase_anchor=anchor,
            )
            phase = model.phase_track(req)
            if phase is not None:
                prev_phase, prev_phase_start = phase, win_start
            yield _Window(k, win_start, win_end, last), req
            if last:
                return
            # Drop what no later chunk needs.
            keep_from = (k + 1) * chunk - overlap
            buf = buf[keep_from - buf_start :]
            buf_start = keep_from
            k += 1

    def accept(self, w: _Window, out: Rendered) -> None:
        chunk, overlap, margin = self.chunk, self.overlap, self.margin
        k, y = w.k, out.audio
        valid_start = w.start + margin if k > 0 else 0
        fade_end = k * chunk + overlap - margin  # end of the cross-fade with chunk k-1
        if self._tail is not None and fade_end > valid_start:
            n = fade_end - valid_start
            ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
            own = y[valid_start - w.start : fade_end - w.start]
            self.sink((self._tail[:n] * (1.0 - ramp) + own * ramp).astype(np.float32))
            emit_from = fade_end
        else:
            emit_from = valid_start
        next_fade = (k + 1) * chunk - overlap + margin
        emit_to = w.end if w.last else next_fade
        self.sink(y[emit_from - w.start : emit_to - w.start])
        self.chunks = k + 1
        if w.last:
            return
        self._tail = y[next_fade - w.start : w.end - margin - w.start]
        self.progress(
            min(0.99, (self.chunks * chunk) / max(self.total_hint, 1)),
            f"converting chunk {self.chunks}",
        )


def _drive(streams: Sequence[_ChunkedStream], render: Renderer, max_batch: int) -> None:
    """Render the chunks of all ``streams`` in batches of up to ``max_batch``, taking chunks
    from the streams in turn (so several inputs share each batch), and hand each result back
    to its stream in order. Memory: at most ``max_batch`` chunks are in flight."""
    if max_batch < 1:
        raise ValueError("max_batch must be at least 1")
    pending = [(s, s.requests()) for s in streams]
    while pending:
        batch: list[tuple[_ChunkedStream, _Window, RenderRequest]] = []
        ended: set[int] = set()
        while len(batch) < max_batch and len(ended) < len(pending):
            for i, (stream, it) in enumerate(pending):
                if i in ended or len(batch) == max_batch:
                    continue
                nxt = next(it, None)
                if nxt is None:
                    ended.add(i)
                else:
                    batch.append((stream, *nxt))
        if batch:
            outs = render([req for _, _, req in batch])
            for (stream, window, _), out in zip(batch, outs, strict=True):
                stream.accept(window, out)
        pending = [p for i, p in enumerate(pending) if i not in ended]


def _convert_stream(
    model: VoiceModel,
    source: Iterator[F32],
    plan: SourcePlan,
    opts: ConvertOptions,
    total_hint: int,
    sink: Callable[[F32], None],
    progress: Progress,
    *,
    render: Renderer | None = None,
    max_batch: int = 1,
) -> int:
    """Chunked conversion of a mono stream at the model rate; returns the chunk count."""
    stream = _ChunkedStream(model, source, plan, opts, total_hint, sink, progress)
    _drive([stream], render or model.render_batch, max_batch)
    return stream.chunks


@dataclass
class ConvertTask:
    """One input of ``convert_files``."""

    input_path: Path
    out_path: Path
    options: ConvertOptions | None = None
    accompaniment: Path | None = None
    progress: Progress | None = None


class _FileRun:
    """Everything ``convert_files`` keeps per input: validation, plan, meters, raw output."""

    def __init__(self, model: VoiceModel, task: ConvertTask, tmp: Path) -> None:
        self.started = time.perf_counter()
        self.task = task
        self.opts = opts = task.options or ConvertOptions()
        self.report: Progress = task.progress or (lambda _f, _s: None)
        self.info = probe(Path(task.input_path), max_duration_s=MAX_INPUT_S, min_duration_s=0.25)
        if task.accompaniment is not None:
            probe(Path(task.accompaniment), max_duration_s=MAX_INPUT_S)
        self.out_path = Path(task.out_path)
        fmt = _FORMATS.get(self.out_path.suffix.lower())
        if fmt is None:
            raise ValueError(f"unsupported output extension: {self.out_path.suffix!r}")
        self.fmt = fmt
        sr = model.cfg.sample_rate
        self.out_sr = opts.out_sample_rate or self.info.sample_rate
        self.report(0.0, "measuring the input")
        plan = make_plan(model, Path(task.input_path), opts)
        self.in_meter, self.out_meter = LoudnessMeter(sr), LoudnessMeter(sr)

        def metered(blocks: Iterator[F32]) -> Iterator[F32]:
            for b in blocks:
                self.in_meter.feed(b)
                yield b

        def sink(block: F32) -> None:
            self.out_meter.feed(block)
            self.fh.write(block)

        self.stream = _ChunkedStream(
            model,
            metered(stream_mono(Path(task.input_path), sr, opts.block_frames)),
            plan,
            opts,
            int(self.info.duration_s * sr),
            sink,
            self.report,
        )
        self.raw = tmp / "converted.wav"
        self.fh = sf.SoundFile(str(self.raw), "w", sr, 1, subtype="FLOAT")

    def finish(self) -> ConvertResult:
        self.fh.close()
        gain_db = self.in_meter.loudness() - self.out_meter.loudness()
        if not math.isfinite(gain_db):
            gain_db = 0.0
        self.report(0.99, "mixing" if self.task.accompaniment else "writing")
        _write_output(
            self.raw,
            self.out_path,
            self.fmt,
            self.out_sr,
            10 ** (gain_db / 20),
            self.task.accompaniment,
            self.opts,
        )
        self.report(1.0, "done")
        return ConvertResult(
            out=self.out_path,
            duration_s=self.info.duration_s,
            wall_s=time.perf_counter() - self.started,
            chunks=self.stream.chunks,
            sample_rate=self.out_sr,
            input_lufs=self.in_meter.loudness(),
            output_gain_db=gain_db,
        )


def convert_files(
    model: VoiceModel,
    tasks: Sequence[ConvertTask],
    *,
    max_batch: int = 16,
    render: Renderer | None = None,
) -> list[ConvertResult]:
    """Convert several inputs with one model, their chunks rendered together in batches of up
    to ``max_batch`` (``VoiceModel.render_batch``); each output is the same as ``convert_file``
    of that input alone. Every input is validated and measured before any is converted.
    ``render`` replaces ``model.render_batch`` (e.g. a worker's micro-batcher)."""
    with contextlib.ExitStack() as stack:
        runs = []
        for task in tasks:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            run = _FileRun(model, task, tmp)
            stack.callback(run.fh.close)
            runs.append(run)
        _drive([r.stream for r in runs], render or model.render_batch, max_batch)
        return [r.finish() for r in runs]


def convert_file(
    model: VoiceModel,
    input_path: Path,
    out_path: Path,
    *,
    options: ConvertOptions | None = None,
    accompaniment: Path | None = None,
    progress: Progress | None = None,
    render: Renderer | None = None,
    max_batch: int = 1,
) -> ConvertResult:
    """Convert the vocal at ``input_path`` to the model's voice and write ``out_path``.

    ``max_batch`` chunks of the input are rendered at once (1: memory bounded by one chunk);
    ``render`` replaces ``model.render_batch`` (e.g. a worker's micro-batcher)."""
    task = ConvertTask(Path(input_path), Path(out_path), options, accompaniment, progress)
    return convert_files(model, [task], max_batch=max_batch, render=render)[0]


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
