"""Audio file I/O and validation.

Units: sample rates in Hz, durations in seconds, levels in dBFS (0 dBFS = full scale 1.0)
and LUFS (ITU-R BS.1770 integrated loudness). Arrays are float32; a mono signal has shape
``(samples,)``, a multi-channel one ``(channels, samples)`` (channel-first, as torch expects).

``probe`` decodes a file block by block (memory bounded by ``block_frames``) and raises an
:class:`~voice_model.errors.AudioError` subclass for anything unusable. ``load`` reads,
mixes down and resamples; ``save`` writes atomically; ``integrated_loudness`` and
``normalize_loudness`` implement BS.1770 K-weighted gated loudness.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile as sf
from scipy import signal

from voice_model.errors import (
    AudioTooLong,
    AudioTooShort,
    ClippedAudio,
    NonFiniteAudio,
    SilentAudio,
    UnreadableAudio,
)

FloatArray = npt.NDArray[np.float32]

MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 16
# libsndfile parses some 25 containers; we take the four users send (fewer parsers exposed to
# uploaded bytes). WAVEX is how libsndfile names WAVE_FORMAT_EXTENSIBLE files.
ACCEPTED_FORMATS = frozenset({"WAV", "WAVEX", "FLAC", "OGG", "MP3"})
_NOT_ACCEPTED = "The file is not audio in a format we take (WAV, FLAC, Ogg or MP3)."
# libsndfile reports SF_COUNT_MAX frames for a stream that does not state its length (FLAC
# STREAMINFO total 0): such a count is "unknown", never a length.
_UNKNOWN_FRAMES = 2**62
_LOAD_BLOCK_FRAMES = 1 << 16
# Decoders disagree with headers by encoder delay/padding (MP3: up to ~2 frames of 1152);
# beyond this fraction plus 50 ms a file is treated as truncated.
_TRUNCATION_TOLERANCE = 0.02


@dataclass(frozen=True)
class AudioInfo:
    """What ``probe`` found. ``frames`` counts decoded samples per channel."""

    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    format: str
    subtype: str | None
    peak_dbfs: float = 0.0


def _dbfs(peak: float) -> float:
    return 20.0 * math.log10(peak) if peak > 0.0 else -math.inf


def _wav_declared_frames(path: Path) -> int | None:
    """Frames the RIFF ``data`` chunk header declares, or None if not a plain RIFF/WAVE.

    libsndfile silently shortens a truncated WAV to what is on disk, so the header is the
    only record of how long the file was meant to be.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = 0
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"fmt ":
                    fmt = fh.read(min(size, 64))
                    if len(fmt) >= 14:
                        block_align = struct.unpack("<H", fmt[12:14])[0]
                    fh.seek(size - len(fmt) + (size & 1), os.SEEK_CUR)
                elif cid == b"data":
                    # 0 and 0xFFFFFFFF mean "unknown length" (streamed writers).
                    if size in (0, 0xFFFFFFFF) or block_align <= 0:
                        return None
                    return int(size // block_align)
                else:
                    fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None


def _open(path: Path) -> sf.SoundFile:
    """Open ``path`` with libsndfile, but only if it starts like a container we take."""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise UnreadableAudio(_NOT_ACCEPTED, path=path.name, reason=str(exc)) from exc
    if not _looks_accepted(head):
        raise UnreadableAudio(_NOT_ACCEPTED, path=path.name)
    try:
        opened = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise UnreadableAudio(
            "The file is not audio in a format we can read.", path=path.name, reason=str(exc)
        ) from exc
    if str(opened.format) not in ACCEPTED_FORMATS:  # e.g. an ID3 tag in front of another format
        opened.close()
        raise UnreadableAudio(_NOT_ACCEPTED, path=path.name, format=str(opened.format))
    return opened


def _looks_accepted(head: bytes) -> bool:
    """The magic numbers of WAV, FLAC, Ogg and MP3 (an ID3v2 tag, or an MPEG frame sync)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return True
    if head[:4] in (b"fLaC", b"OggS") or head[:3] == b"ID3":
        return True
    return len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0


def _check_header(fh: sf.SoundFile) -> tuple[int, int]:
    """(sample rate in Hz, channels), refusing values no recording has."""
    sample_rate, channels = int(fh.samplerate), int(fh.channels)
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        raise UnreadableAudio(
            f"Sample rate {sample_rate} Hz is outside {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz.",
            sample_rate=sample_rate,
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise UnreadableAudio(
            f"{channels} channels is outside 1 to {MAX_CHANNELS}.", channels=channels
        )
    return sample_rate, channels


def _declared_frames(fh: sf.SoundFile, path: Path) -> int | None:
    """Frames the file says it holds (the larger of libsndfile's and the RIFF header's), or
    None when it does not say."""
    frames = int(fh.frames)
    known = [f for f in (frames, _wav_declared_frames(path)) if f is not None]
    known = [f for f in known if 0 <= f < _UNKNOWN_FRAMES]
    return max(known) if known else None


def probe(
    path: Path,
    *,
    max_duration_s: float | None = None,
    min_duration_s: float = 0.0,
    silence_dbfs: float = -60.0,
    block_frames: int = 65536,
) -> AudioInfo:
    """Decode ``path`` fully in blocks of ``block_frames`` and check it is usable audio.

    Raises ``UnreadableAudio`` (not WAV/FLAC/Ogg/MP3, not decodable, truncated, absurd
    rate/channels; a stream that does not state its length is decoded up to the limit),
    ``AudioTooLong`` (declared length checked before decoding, then the decoded one),
    ``AudioTooShort``, ``NonFiniteAudio`` and ``SilentAudio`` (peak below ``silence_dbfs``).
    Clipping is not rejected here: a clipped fan vocal can still be converted.
    """
    path = Path(path)
    fh = _open(path)
    with fh:
        sample_rate, channels = _check_header(fh)
        declared = _declared_frames(fh, path)
        if (
            max_duration_s is not None
            and declared is not None
            and declared / sample_rate > max_duration_s
        ):
            raise AudioTooLong(
                f"The audio is {declared / sample_rate:.1f} s long; the limit is "
                f"{max_duration_s:.1f} s.",
                duration_s=declared / sample_rate,
                max_duration_s=max_duration_s,
            )
        decoded, peak = 0, 0.0
        limit = None if max_duration_s is None else int(max_duration_s * sample_rate) + 1
        try:
            while True:
                block = fh.read(block_frames, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if not np.isfinite(block).all():
                    raise NonFiniteAudio(
                        "The audio contains NaN or infinite samples.",
                        at_s=decoded / sample_rate,
                    )
                peak = max(peak, float(np.max(np.abs(block))))
                decoded += block.shape[0]
                if limit is not None and decoded > limit:
                    # The header lied (e.g. streamed WAV): stop decoding at the limit.
                    raise AudioTooLong(
                        f"The audio is longer than the limit of {max_duration_s:.1f} s.",
                        duration_s=decoded / sample_rate,
                        max_duration_s=max_duration_s,
                    )
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UnreadableAudio(
                "The audio is corrupt and could not be decoded to the end.",
                path=path.name,
                decoded_s=decoded / sample_rate,
                reason=str(exc),
            ) from exc
        fmt, subtype = str(fh.format), (str(fh.subtype) if fh.subtype else None)
    if declared is not None and (
        decoded < declared * (1.0 - _TRUNCATION_TOLERANCE) - 0.05 * sample_rate
    ):
        raise UnreadableAudio(
            f"The file is truncated: it declares {declared / sample_rate:.2f} s but only "
            f"{decoded / sample_rate:.2f} s could be decoded.",
            declared_s=declared / sample_rate,
            decoded_s=decoded / sample_rate,
        )
    duration = decoded / sample_rate
    if decoded == 0:
        if declared == 0 and fmt in ("WAV", "WAVEX"):  # only a RIFF header can say "0 frames"
            raise AudioTooShort(
                "The audio is empty: it holds no samples.",
                duration_s=0.0,
                min_duration_s=min_duration_s,
            )
        # libsndfile decodes nothing from a cut Ogg stream and reports 0 frames for it.
        raise UnreadableAudio(
            "No audio could be decoded from the file: it is truncated or corrupt.",
            path=path.name,
        )
    if duration < min_duration_s:
        raise AudioTooShort(
            f"The audio is {duration:.2f} s long; at least {min_duration_s:.2f} s is needed.",
            duration_s=duration,
            min_duration_s=min_duration_s,
        )
    if _dbfs(peak) < silence_dbfs:
        raise SilentAudio(
            f"The audio is silent (peak {_dbfs(peak):.1f} dBFS, threshold {silence_dbfs:.1f}).",
            peak_dbfs=_dbfs(peak),
            silence_dbfs=silence_dbfs,
        )
    return AudioInfo(
        sample_rate=sample_rate,
        channels=channels,
        frames=decoded,
        duration_s=duration,
        format=fmt,
        subtype=subtype,
        peak_dbfs=_dbfs(peak),
    )


def resample(audio: FloatArray, orig_sr: int, target_sr: int) -> FloatArray:
    """Polyphase resampling along the last axis; returns float32, same leading shape."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(audio, dtype=np.float32)
    g = math.gcd(orig_sr, target_sr)
    out = signal.resample_poly(audio, target_sr // g, orig_sr // g, axis=-1)
    return np.ascontiguousarray(out, dtype=np.float32)


def load(
    path: Path,
    *,
    sample_rate: int,
    mono: bool = True,
    start_s: float = 0.0,
    duration_s: float | None = None,
    max_duration_s: float | None = None,
) -> FloatArray:
    """Read ``path`` (or a window of it) as float32 at ``sample_rate`` Hz.

    Returns shape ``(samples,)`` when ``mono`` (channels averaged), else
    ``(channels, samples)``. Undecodable input raises ``UnreadableAudio``; more than
    ``max_duration_s`` seconds raises ``AudioTooLong`` (declared length checked before
    decoding). Memory follows what actually decodes, never what a header claims. Call
    ``probe`` first for the full set of checks.
    """
    path = Path(path)
    fh = _open(path)
    try:
        with fh:
            sr, channels = _check_header(fh)
            declared = _declared_frames(fh, path)
            limit = None if max_duration_s is None else int(max_duration_s * sr)
            if limit is not None and declared is not None and declared > limit:
                raise AudioTooLong(
                    f"The audio is {declared / sr:.1f} s long; the limit is "
                    f"{max_duration_s:.1f} s.",
                    duration_s=declared / sr,
                    max_duration_s=max_duration_s,
                )
            start = round(start_s * sr)
            if start:
                fh.seek(min(start, declared if declared is not None else start))
            want = None if duration_s is None else round(duration_s * sr)
            blocks: list[FloatArray] = []
            got = 0
            while want is None or got < want:
                n = _LOAD_BLOCK_FRAMES if want is None else min(_LOAD_BLOCK_FRAMES, want - got)
                block = fh.read(n, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                got += block.shape[0]
                if limit is not None and got > limit:
                    raise AudioTooLong(
                        f"The audio is longer than the limit of {max_duration_s:.1f} s.",
                        duration_s=got / sr,
                        max_duration_s=max_duration_s,
                    )
                blocks.append(block)
    except (sf.LibsndfileError, RuntimeError, TypeError, OSError) as exc:
        raise UnreadableAudio(
            "The file is not audio in a format we can read.", path=path.name
        ) from exc
    data = np.concatenate(blocks) if blocks else np.zeros((0, channels), dtype=np.float32)
    audio: FloatArray = data.T.copy()
    if mono:
        audio = audio.mean(axis=0).astype(np.float32)
    return resample(audio, sr, sample_rate)


def save(path: Path, audio: FloatArray, sample_rate: int, *, subtype: str | None = None) -> Path:
    """Write ``audio`` (``(samples,)`` or ``(channels, samples)``) atomically to ``path``.

    The container follows the extension (wav, flac, ogg, mp3); samples beyond ±1 are clipped
    rather than wrapped. Returns ``path``.
    """
    path = Path(path)
    arr = np.asarray(audio, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr.T
    elif arr.ndim != 1:
        raise ValueError(f"audio must be 1-D or (channels, samples), got shape {arr.shape}")
    arr = np.clip(arr, -1.0, 1.0)
    ext = path.suffix.lower().lstrip(".")
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}.get(ext)
    if fmt is None:
        raise ValueError(f"unsupported output extension: {path.suffix!r}")
    if subtype is None:
        subtype = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        sf.write(tmp, arr, sample_rate, format=fmt, subtype=subtype)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def clipped_fraction(audio: FloatArray, *, threshold: float = 0.999) -> float:
    """Fraction of samples whose magnitude is at or above ``threshold`` (full scale = 1)."""
    arr = np.asarray(audio)
    return float(np.mean(np.abs(arr) >= threshold)) if arr.size else 0.0


def check_training_audio(
    audio: FloatArray,
    sample_rate: int,
    *,
    min_duration_s: float = 1.0,
    silence_dbfs: float = -60.0,
    max_clipped_fraction: float = 0.01,
) -> None:
    """Reject audio a voice cannot be learned from (stricter than ``probe``: clipping too)."""
    duration = audio.shape[-1] / sample_rate
    if duration < min_duration_s:
        raise AudioTooShort(
            f"Training audio is {duration:.2f} s; at least {min_duration_s:.2f} s is needed.",
            duration_s=duration,
            min_duration_s=min_duration_s,
        )
    if not np.isfinite(audio).all():
        raise NonFiniteAudio("Training audio contains NaN or infinite samples.")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if _dbfs(peak) < silence_dbfs:
        raise SilentAudio(
            "Training audio is silent.", peak_dbfs=_dbfs(peak), silence_dbfs=silence_dbfs
        )
    frac = clipped_fraction(audio)
    if frac > max_clipped_fraction:
        raise ClippedAudio(
            f"{100 * frac:.1f} % of the samples are clipped at full scale; a voice cannot be "
            "learned from distorted audio.",
            clipped_fraction=frac,
            max_clipped_fraction=max_clipped_fraction,
        )


def _biquad(kind: str, fc: float, gain_db: float, q: float, fs: int) -> tuple[Any, Any]:
    a_ = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * fc / fs
    alpha, cw = math.sin(w0) / (2.0 * q), math.cos(w0)
    if kind == "high_shelf":
        sa = 2.0 * math.sqrt(a_) * alpha
        b = [
            a_ * ((a_ + 1) + (a_ - 1) * cw + sa),
            -2 * a_ * ((a_ - 1) + (a_ + 1) * cw),
            a_ * ((a_ + 1) + (a_ - 1) * cw - sa),
        ]
        a = [
            (a_ + 1) - (a_ - 1) * cw + sa,
            2 * ((a_ - 1) - (a_ + 1) * cw),
            (a_ + 1) - (a_ - 1) * cw - sa,
        ]
    else:  # high_pass
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    return np.asarray(b) / a[0], np.asarray(a) / a[0]


class LoudnessMeter:
    """Streaming BS.1770-4 integrated loudness: feed ``(samples,)`` or ``(channels, samples)``.

    K-weighting, 400 ms blocks with 75 % overlap, absolute gate -70 LUFS, relative gate
    -10 LU. Memory: one float per 100 ms of audio.
    """

    def __init__(self, sample_rate: int, channels: int = 1) -> None:
        self.sample_rate = sample_rate
        self._filters = [
            _biquad(kind, fc, g, q, sample_rate)
            for kind, fc, g, q in (
                ("high_shelf", 1500.0, 4.0, 2**-0.5),
                ("high_pass", 38.0, 0.0, 0.5),
            )
        ]
        self._zi = [np.zeros((channels, 2)) for _ in self._filters]
        self._step = max(1, int(0.1 * sample_rate))
        self._carry = np.zeros(0)
        self._sums: list[float] = []  # channel-summed energy per 100 ms step

    def feed(self, audio: npt.NDArray[Any]) -> None:
        x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
        for n, (b, a) in enumerate(self._filters):
            x, self._zi[n] = signal.lfilter(b, a, x, axis=-1, zi=self._zi[n])
        energy = np.concatenate([self._carry, (x**2).sum(axis=0)])
        whole = energy.shape[0] // self._step * self._step
        self._sums += energy[:whole].reshape(-1, self._step).sum(axis=1).tolist()
        self._carry = energy[whole:]

    def loudness(self) -> float:
        """Integrated loudness in LUFS of everything fed so far (``-inf`` for silence)."""
        n_samples = len(self._sums) * self._step + self._carry.size
        if n_samples == 0:
            return -math.inf
        if len(self._sums) < 4:
            # Shorter than one 400 ms block: the mean square of everything.
            power = np.array([(sum(self._sums) + float(self._carry.sum())) / n_samples])
        else:
            steps = np.asarray(self._sums)
            power = np.convolve(steps, np.ones(4), mode="valid") / (4 * self._step)
        with np.errstate(divide="ignore"):
            lk = -0.691 + 10.0 * np.log10(power)
        gated = power[lk > -70.0]
        if gated.size == 0:
            return -math.inf
        rel = -0.691 + 10.0 * math.log10(float(gated.mean())) - 10.0
        final = power[(lk > -70.0) & (lk > rel)]
        return -0.691 + 10.0 * math.log10(float(final.mean()))


def integrated_loudness(audio: FloatArray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS of ``(samples,)`` or ``(channels, samples)``."""
    x = np.atleast_2d(np.asarray(audio))
    meter = LoudnessMeter(sample_rate, x.shape[0])
    meter.feed(x)
    return meter.loudness()


def normalize_loudness(
    audio: FloatArray, sample_rate: int, *, target_lufs: float = -20.0, peak_dbfs: float = -1.0
) -> FloatArray:
    """Scale ``audio`` to ``target_lufs``, then down if needed so its peak is ≤ ``peak_dbfs``."""
    current = integrated_loudness(audio, sample_rate)
    if not math.isfinite(current):
        return np.asarray(audio, dtype=np.float32).copy()
    gain = 10.0 ** ((target_lufs - current) / 20.0)
    peak = float(np.max(np.abs(audio))) * gain
    ceiling = 10.0 ** (peak_dbfs / 20.0)
    if peak > ceiling:
        gain *= ceiling / peak
    return (np.asarray(audio, dtype=np.float32) * np.float32(gain)).astype(np.float32)
