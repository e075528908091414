"""Hostile audio against ``probe`` and ``load``: truncation at any offset, mutated headers,
lying lengths, decompression bombs, absurd rates and channel counts, NaN/inf, empty, silent,
clipped, random bytes and formats we do not take.

Every case must end in an :class:`~voice_model.errors.AudioError` (or sane ``AudioInfo`` for
input that is still valid audio), never another exception, and without allocating or decoding
what a header merely claims."""

from __future__ import annotations

import io
import struct
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_model import errors
from voice_model.audio import (
    ACCEPTED_FORMATS,
    MAX_CHANNELS,
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    check_training_audio,
    load,
    probe,
)

SR = 16_000
LIMIT_S = 20.0  # the duration limit every fuzz case is probed with
FUZZ = settings(max_examples=120, deadline=None)
FUZZ_SMALL = settings(FUZZ, max_examples=60)


def tone(seconds: float, *, sr: int = SR, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)


def encode(audio: np.ndarray, fmt: str, subtype: str | None = None, sr: int = SR) -> bytes:
    """Encoded in blocks: libsndfile's Vorbis encoder crashes on one huge write."""
    buf = io.BytesIO()
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with sf.SoundFile(buf, "w", sr, channels, format=fmt, subtype=subtype) as fh:
        for i in range(0, len(audio), 1 << 15):
            fh.write(audio[i : i + (1 << 15)])
    return buf.getvalue()


# Valid seeds the fuzzers cut and mutate: each format (and a float WAV, whose samples can be
# NaN), 1 s, made once per module.
SEED_SPECS: dict[str, tuple[str, str | None, int]] = {
    "wav": ("WAV", "PCM_16", SR),
    "wav-float": ("WAV", "FLOAT", SR),
    "flac": ("FLAC", "PCM_16", SR),
    "ogg": ("OGG", "VORBIS", SR),
    "mp3": ("MP3", "MPEG_LAYER_III", 44_100),
}


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return {
        name: encode(tone(1.0, sr=sr), fmt, subtype, sr)
        for name, (fmt, subtype, sr) in SEED_SPECS.items()
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def outcome(path: Path) -> errors.AudioError | None:
    """Probe (and load) ``path``; the only failures allowed are ``AudioError``s, and what is
    accepted must be sane audio within the limit."""
    try:
        info = probe(path, max_duration_s=LIMIT_S)
    except errors.AudioError as exc:
        assert exc.code.startswith("audio_") and exc.message
        return exc
    assert MIN_SAMPLE_RATE <= info.sample_rate <= MAX_SAMPLE_RATE
    assert 1 <= info.channels <= MAX_CHANNELS
    assert 0 < info.frames <= LIMIT_S * info.sample_rate + 1
    assert info.format in ACCEPTED_FORMATS
    audio = load(path, sample_rate=SR, max_duration_s=LIMIT_S)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert np.isfinite(audio).all()
    return None


def _write(scratch: Path, data: bytes, name: str = "case.bin") -> Path:
    path = scratch / name
    path.write_bytes(data)
    return path


# --- hypothesis: cuts and header mutations --------------------------------------------------


@FUZZ
@given(name=st.sampled_from(sorted(SEED_SPECS)), fraction=st.floats(0.0, 1.0))
def test_truncated_at_any_offset(
    seeds: dict[str, bytes], scratch: Path, name: str, fraction: float
) -> None:
    data = seeds[name]
    cut = data[: int(len(data) * fraction)]
    err = outcome(_write(scratch, cut))
    if len(cut) < len(data) * 0.9:
        # Most of the file is gone: that is never a valid 1 s recording.
        assert err is not None


@FUZZ
@given(
    name=st.sampled_from(sorted(SEED_SPECS)),
    edits=st.lists(st.tuples(st.integers(0, 127), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_mutated_header_bytes(
    seeds: dict[str, bytes], scratch: Path, name: str, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(seeds[name])
    for offset, value in edits:
        data[offset] = value
    outcome(_write(scratch, bytes(data)))


_WAV_FIELDS = {  # offset, struct format of the canonical 44-byte header's fields
    "riff_size": (4, "<I"),
    "fmt_size": (16, "<I"),
    "format_tag": (20, "<H"),
    "channels": (22, "<H"),
    "sample_rate": (24, "<I"),
    "byte_rate": (28, "<I"),
    "block_align": (32, "<H"),
    "bits": (34, "<H"),
    "data_size": (40, "<I"),
}


@FUZZ
@given(
    field=st.sampled_from(sorted(_WAV_FIELDS)),
    value=st.one_of(
        st.sampled_from([0, 1, 2, 8, 3999, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1]),
        st.integers(0, 2**32 - 1),
    ),
)
def test_wav_header_fields_with_any_value(
    seeds: dict[str, bytes], scratch: Path, field: str, value: int
) -> None:
    offset, fmt = _WAV_FIELDS[field]
    data = bytearray(seeds["wav"])
    struct.pack_into(fmt, data, offset, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))
    outcome(_write(scratch, bytes(data)))


@FUZZ_SMALL
@given(data=st.binary(min_size=0, max_size=4096))
def test_random_bytes(scratch: Path, data: bytes) -> None:
    assert outcome(_write(scratch, data)) is not None


@FUZZ
@given(
    prefix=st.sampled_from([b"RIFF", b"fLaC", b"OggS", b"ID3\x04\x00", b"\xff\xfb"]),
    tail=st.binary(min_size=0, max_size=2048),
)
def test_right_magic_then_garbage(scratch: Path, prefix: bytes, tail: bytes) -> None:
    err = outcome(_write(scratch, prefix + tail))
    assert err is not None


# --- lying headers: nothing is allocated or decoded on a header's word ----------------------


class ReadSpy:
    """Counts the frames ``SoundFile.read`` hands back (decoding work actually done)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.frames = 0
        original = sf.SoundFile.read
        spy = self

        def read(self: sf.SoundFile, frames: int = -1, **kw: object) -> object:
            out = original(self, frames, **kw)  # type: ignore[arg-type]
            spy.frames += len(out)  # type: ignore[arg-type]
            return out

        monkeypatch.setattr(sf.SoundFile, "read", read)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> ReadSpy:
    return ReadSpy(monkeypatch)


def _peak_bytes(fn: Callable[[], object]) -> tuple[object, int]:
    tracemalloc.start()
    try:
        try:
            result: object = fn()
        except errors.AudioError as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _flac_total_samples(data: bytes, total: int) -> bytes:
    """``data`` (a FLAC) with STREAMINFO's 36-bit total-samples field set to ``total``."""
    out = bytearray(data)
    assert out[:4] == b"fLaC"
    word = int.from_bytes(out[18:26], "big")  # STREAMINFO body starts at 8; field ends at 26
    word = (word & ~((1 << 36) - 1)) | total
    out[18:26] = word.to_bytes(8, "big")
    return bytes(out)


def test_wav_claiming_2_pow_32_frames_is_refused_before_decoding(
    tmp_path: Path, spy: ReadSpy
) -> None:
    data = bytearray(encode(tone(1.0), "WAV", "PCM_U8"))  # 1 byte per frame
    struct.pack_into("<I", data, 40, 2**32 - 2)  # ~74 h at 16 kHz
    # The rest of the declared data is "there" as far as the file length goes: sparse.
    path = tmp_path / "liar.wav"
    with path.open("wb") as fh:
        fh.write(data)
        fh.truncate(2**32 + 44)
    with pytest.raises(errors.AudioTooLong) as exc:
        probe(path, max_duration_s=600)
    assert exc.value.detail["duration_s"] > 3600
    with pytest.raises(errors.AudioTooLong):
        load(path, sample_rate=SR, max_duration_s=600)
    assert spy.frames == 0


def test_flac_header_claiming_2_pow_36_frames_allocates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "liar.flac"
    path.write_bytes(_flac_total_samples(encode(tone(1.0), "FLAC"), (1 << 36) - 1))
    with pytest.raises(errors.AudioTooLong):
        probe(path, max_duration_s=600)
    # Without a limit probe decodes what is there and calls it truncated; load must not
    # allocate the 256 GiB the header claims either.
    with pytest.raises(errors.UnreadableAudio):
        probe(path)
    result, peak = _peak_bytes(lambda: load(path, sample_rate=SR))
    assert peak < 20 * 2**20
    assert isinstance(result, errors.UnreadableAudio) or (
        isinstance(result, np.ndarray) and result.shape[0] <= SR
    )


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """Tiny files that decode to a long constant tone: FLAC 2 h, Ogg Vorbis 1 h, MP3 20 min
    (8 kHz, a DC level that is neither silent nor clipped)."""
    sr = 8000
    return {
        "flac": encode(np.full(sr * 7200, 0.25, np.float32), "FLAC", "PCM_16", sr),
        "ogg": encode(np.full(sr * 3600, 0.25, np.float32), "OGG", "VORBIS", sr),
        "mp3": encode(np.full(sr * 1200, 0.25, np.float32), "MP3", "MPEG_LAYER_III", sr),
    }


@pytest.mark.parametrize("kind", ["flac", "ogg", "mp3"])
def test_decompression_bomb_is_refused_before_decoding(
    bombs: dict[str, bytes], tmp_path: Path, spy: ReadSpy, kind: str
) -> None:
    data = bombs[kind]
    assert len(data) < 3 * 2**20  # a few MB at most, for 20 min to 2 h of audio
    path = tmp_path / f"bomb.{kind}"
    path.write_bytes(data)
    (exc, peak) = _peak_bytes(lambda: probe(path, max_duration_s=LIMIT_S))
    assert isinstance(exc, errors.AudioTooLong)
    assert exc.detail["duration_s"] >= 1200
    (exc, _) = _peak_bytes(lambda: load(path, sample_rate=SR, max_duration_s=LIMIT_S))
    assert isinstance(exc, errors.AudioTooLong)
    assert spy.frames == 0 and peak < 20 * 2**20


def test_bomb_that_hides_its_length_stops_decoding_at_the_limit(
    bombs: dict[str, bytes], tmp_path: Path, spy: ReadSpy
) -> None:
    path = tmp_path / "hidden.flac"
    path.write_bytes(_flac_total_samples(bombs["flac"], 0))  # 0 = "length unknown"
    block = 4096
    exc, peak = _peak_bytes(lambda: probe(path, max_duration_s=LIMIT_S, block_frames=block))
    assert isinstance(exc, errors.AudioTooLong)
    assert spy.frames <= LIMIT_S * 8000 + 2 * block  # stopped at the limit, not at 2 h
    assert peak < 20 * 2**20
    spy.frames = 0
    exc, _ = _peak_bytes(lambda: load(path, sample_rate=SR, max_duration_s=LIMIT_S))
    assert isinstance(exc, errors.AudioTooLong)
    assert spy.frames <= LIMIT_S * 8000 + 2**16


# --- deterministic lists ------------------------------------------------------------------


def _wav_with(field: str, value: int) -> bytes:
    offset, fmt = _WAV_FIELDS[field]
    data = bytearray(encode(tone(1.0), "WAV", "PCM_16"))
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sample_rate", 0),
        ("sample_rate", 1),
        ("sample_rate", 8),
        ("sample_rate", MIN_SAMPLE_RATE - 1),
        ("sample_rate", MAX_SAMPLE_RATE + 1),
        ("sample_rate", 4_000_000_000),  # 4 GHz
        ("sample_rate", 2**32 - 1),
        ("channels", 0),
        ("channels", MAX_CHANNELS + 1),
        ("channels", 1000),
        ("channels", 1024),
        ("channels", 65535),
        ("bits", 0),
        ("bits", 64),
        ("format_tag", 0xFFFF),
    ],
)
def test_absurd_rates_and_channel_counts_are_unreadable(
    tmp_path: Path, field: str, value: int
) -> None:
    path = _write(tmp_path, _wav_with(field, value))
    with pytest.raises(errors.UnreadableAudio):
        probe(path)
    with pytest.raises(errors.UnreadableAudio):
        load(path, sample_rate=SR)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("riff_size", 0),
        ("riff_size", 12),
        ("riff_size", 2**32 - 1),
        ("byte_rate", 0),
        ("block_align", 0),
    ],
)
def test_riff_size_lies_change_nothing_decoded(tmp_path: Path, field: str, value: int) -> None:
    # Fields libsndfile recomputes: the audio that is there is still the audio.
    info = probe(_write(tmp_path, _wav_with(field, value)))
    assert (info.frames, info.sample_rate, info.channels) == (SR, SR, 1)


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
@pytest.mark.parametrize("where", [0, 8000, 15999])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples(tmp_path: Path, subtype: str, where: int, bad: float) -> None:
    audio = tone(1.0)
    audio[where] = bad
    path = _write(tmp_path, encode(audio, "WAV", subtype), "nan.wav")
    with pytest.raises(errors.NonFiniteAudio) as exc:
        probe(path)
    assert exc.value.detail["at_s"] <= where / SR


@pytest.mark.parametrize(
    ("fmt", "subtype"), [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")]
)
def test_zero_length(tmp_path: Path, fmt: str, subtype: str) -> None:
    path = _write(tmp_path, encode(np.zeros(0, np.float32), fmt, subtype))
    with pytest.raises((errors.AudioTooShort, errors.UnreadableAudio)) as exc:
        probe(path)
    assert "0.00 s is needed" not in exc.value.message  # was: "0.00 s long; at least 0.00 s"


@pytest.mark.parametrize(
    ("fmt", "subtype", "sr"),
    [
        ("WAV", "PCM_16", SR),
        ("FLAC", "PCM_16", SR),
        ("OGG", "VORBIS", SR),
        ("MP3", "MPEG_LAYER_III", 44_100),
    ],
)
def test_silence_and_clipping(tmp_path: Path, fmt: str, subtype: str, sr: int) -> None:
    silent = _write(tmp_path, encode(np.zeros(sr, np.float32), fmt, subtype, sr), "s")
    with pytest.raises(errors.SilentAudio):
        probe(silent)
    square = np.sign(tone(1.0, sr=sr)).astype(np.float32)  # every sample at full scale
    clipped = _write(tmp_path, encode(square, fmt, subtype, sr), "c")
    probe(clipped)  # a clipped fan vocal can still be converted...
    with pytest.raises(errors.ClippedAudio):  # ...but no voice is learned from it
        check_training_audio(load(clipped, sample_rate=SR), SR)


def test_float_samples_far_beyond_full_scale_are_accepted_as_clipping(tmp_path: Path) -> None:
    path = _write(tmp_path, encode(np.full(SR, 1e30, np.float32), "WAV", "FLOAT"))
    info = probe(path)
    assert info.peak_dbfs > 500
    with pytest.raises(errors.ClippedAudio):
        check_training_audio(load(path, sample_rate=SR), SR)


OTHER_FORMATS = [
    "AIFF",
    "AU",
    "CAF",
    "W64",
    "RF64",
    "IRCAM",
    "MAT4",
    "MAT5",
    "NIST",
    "VOC",
    "XI",
    "PAF",
    "SVX",
    "HTK",
    "AVR",
    "MPC2K",
    "WVE",
    "SDS",
    "PVF",
]


@pytest.mark.parametrize("fmt", OTHER_FORMATS)
def test_formats_we_do_not_take_are_refused(tmp_path: Path, fmt: str) -> None:
    # libsndfile reads ~25 formats; uploads are wav, flac, ogg or mp3 (fewer parsers exposed).
    subtype = {"XI": "DPCM_16", "WVE": "ALAW", "MAT4": "DOUBLE", "MAT5": "DOUBLE"}.get(fmt)
    path = _write(tmp_path, encode(tone(1.0), fmt, subtype), "voice.wav")
    with pytest.raises(errors.UnreadableAudio) as exc:
        probe(path)
    assert "WAV, FLAC, Ogg or MP3" in exc.value.message
    with pytest.raises(errors.UnreadableAudio):
        load(path, sample_rate=SR)


@pytest.mark.parametrize(
    ("name", "ext"), [("flac", "wav"), ("ogg", "mp3"), ("mp3", "flac"), ("wav", "ogg")]
)
def test_wrong_extension_is_read_by_content(
    seeds: dict[str, bytes], tmp_path: Path, name: str, ext: str
) -> None:
    info = probe(_write(tmp_path, seeds[name], f"voice.{ext}"))
    assert info.format == SEED_SPECS[name][0]


def test_load_window_past_the_end_and_limits(tmp_path: Path) -> None:
    path = _write(tmp_path, encode(tone(2.0), "WAV", "PCM_16"), "w.wav")
    assert load(path, sample_rate=SR, start_s=5.0).shape == (0,)
    assert load(path, sample_rate=SR, max_duration_s=2.5).shape == (2 * SR,)
    with pytest.raises(errors.AudioTooLong):
        load(path, sample_rate=SR, max_duration_s=1.0)


def test_flac_that_does_not_state_its_length_is_not_called_too_long(
    seeds: dict[str, bytes], tmp_path: Path
) -> None:
    # STREAMINFO total 0 means "unknown": libsndfile then reports 2^63-1 frames, which probe
    # took as a length ("10^15 s long"). It is decoded instead; libsndfile 1.2 fails to seek in
    # such a short stream, so it is refused as unreadable, for a reason that is true.
    path = _write(tmp_path, _flac_total_samples(seeds["flac"], 0), "stream.flac")
    with pytest.raises(errors.UnreadableAudio) as exc:
        probe(path, max_duration_s=LIMIT_S)
    assert "decoded" in exc.value.message
