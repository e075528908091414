"""Audio I/O and validation: every rejection ``probe`` makes, in wav, flac, ogg and mp3."""

from __future__ import annotations

import math
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voice_model import errors
from voice_model.audio import (
    check_training_audio,
    integrated_loudness,
    load,
    normalize_loudness,
    probe,
    save,
)

SR = 16_000
FORMATS = ["wav", "flac", "ogg", "mp3"]


def tone(seconds: float, *, sr: int = SR, amp: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path: Path, audio: np.ndarray, sr: int = SR, **kw: object) -> Path:
    sf.write(str(path), audio, sr, **kw)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_accepts_valid_audio(tmp_path: Path, ext: str) -> None:
    path = write(tmp_path / f"ok.{ext}", tone(2.0))
    info = probe(path, max_duration_s=10, min_duration_s=1)
    assert info.sample_rate == SR
    assert info.channels == 1
    assert abs(info.duration_s - 2.0) < 0.1
    assert info.format == ext.upper() if ext != "mp3" else info.format == "MP3"


def test_probe_reports_stereo(tmp_path: Path) -> None:
    stereo = np.stack([tone(1.0), tone(1.0, freq=330)], axis=1)
    info = probe(write(tmp_path / "st.flac", stereo, 44_100))
    assert (info.channels, info.sample_rate) == (2, 44_100)


@pytest.mark.parametrize("content", [b"", b"hello, this is not audio" * 10, b"RIFF\x00\x00"])
def test_probe_rejects_non_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises(errors.UnreadableAudio) as exc:
        probe(path)
    assert exc.value.code == "audio_unreadable"
    assert isinstance(exc.value, ValueError)


def test_probe_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(errors.UnreadableAudio):
        probe(tmp_path / "nope.wav")


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_rejects_truncated(tmp_path: Path, ext: str) -> None:
    full = write(tmp_path / f"full.{ext}", tone(3.0))
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(errors.UnreadableAudio):
        probe(cut)


def _patch_wav(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


def test_probe_rejects_absurd_sample_rate(tmp_path: Path) -> None:
    path = write(tmp_path / "low.wav", tone(1.0))
    _patch_wav(path, 24, "<I", 100)  # fmt chunk sample rate
    with pytest.raises(errors.UnreadableAudio) as exc:
        probe(path)
    assert exc.value.detail.get("sample_rate", 100) == 100


def test_probe_rejects_absurd_channel_count(tmp_path: Path) -> None:
    path = write(tmp_path / "ch.wav", tone(1.0))
    _patch_wav(path, 22, "<H", 300)  # fmt chunk channel count
    with pytest.raises(errors.UnreadableAudio):
        probe(path)


def test_probe_rejects_huge_declared_length_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "liar.wav", tone(1.0), subtype="PCM_16")
    _patch_wav(path, 40, "<I", 0x7FFF_FFF0)  # data chunk size: ~18 h at 16 kHz
    reads: list[int] = []
    original = sf.SoundFile.read

    def spy(self: sf.SoundFile, frames: int = -1, **kw: object) -> object:
        reads.append(frames)
        return original(self, frames, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    with pytest.raises(errors.AudioTooLong) as exc:
        probe(path, max_duration_s=600)
    assert exc.value.code == "audio_too_long"
    assert exc.value.detail["duration_s"] > 3600
    assert reads == []


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_rejects_too_long(tmp_path: Path, ext: str) -> None:
    path = write(tmp_path / f"long.{ext}", tone(3.0))
    with pytest.raises(errors.AudioTooLong):
        probe(path, max_duration_s=2.0)


@pytest.mark.parametrize("ext", FORMATS)
def test_probe_rejects_too_short(tmp_path: Path, ext: str) -> None:
    path = write(tmp_path / f"short.{ext}", tone(0.5))
    with pytest.raises(errors.AudioTooShort) as exc:
        probe(path, min_duration_s=1.0)
    assert exc.value.code == "audio_too_short"


def test_probe_rejects_empty_wav(tmp_path: Path) -> None:
    path = write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32))
    with pytest.raises(errors.AudioTooShort):
        probe(path)


@pytest.mark.parametrize("ext", FORMATS)
@pytest.mark.parametrize("amp", [0.0, 10 ** (-70 / 20)])
def test_probe_rejects_silence(tmp_path: Path, ext: str, amp: float) -> None:
    path = write(tmp_path / f"quiet.{ext}", tone(2.0, amp=amp))
    with pytest.raises(errors.SilentAudio) as exc:
        probe(path)
    assert exc.value.code == "audio_silent"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_probe_rejects_non_finite(tmp_path: Path, bad: float) -> None:
    audio = tone(2.0)
    audio[12345] = bad
    path = write(tmp_path / "nan.wav", audio, subtype="FLOAT")
    with pytest.raises(errors.NonFiniteAudio) as exc:
        probe(path)
    assert exc.value.code == "audio_non_finite"


def test_probe_accepts_clipping_but_training_check_rejects_it(tmp_path: Path) -> None:
    clipped = np.clip(tone(2.0, amp=3.0), -1.0, 1.0)
    path = write(tmp_path / "clip.wav", clipped)
    probe(path)
    with pytest.raises(errors.ClippedAudio) as exc:
        check_training_audio(load(path, sample_rate=SR), SR)
    assert exc.value.code == "audio_clipped"
    check_training_audio(tone(2.0), SR)


def test_probe_memory_is_bounded(tmp_path: Path) -> None:
    seconds, sr = 60.0, 44_100
    n = int(seconds * sr)
    stereo = np.zeros((n, 2), dtype=np.float32)
    stereo[:, 0] = np.sin(np.arange(n) * 0.01) * 0.3
    path = write(tmp_path / "big.wav", stereo, sr)
    whole_bytes = stereo.nbytes
    del stereo
    tracemalloc.start()
    try:
        info = probe(path, block_frames=16_384)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.frames == n
    assert peak < whole_bytes / 20


def test_error_codes_are_distinct() -> None:
    classes = [
        errors.UnreadableAudio,
        errors.AudioTooShort,
        errors.AudioTooLong,
        errors.SilentAudio,
        errors.NonFiniteAudio,
        errors.ClippedAudio,
    ]
    codes = {c.code for c in classes}
    assert len(codes) == len(classes)
    assert all(issubclass(c, errors.AudioError) and issubclass(c, ValueError) for c in classes)
    body = errors.AudioTooLong("too long", duration_s=3.0).to_dict()
    assert body == {"code": "audio_too_long", "message": "too long", "detail": {"duration_s": 3.0}}


@pytest.mark.parametrize("ext", FORMATS)
def test_load_resamples_and_mixes_down(tmp_path: Path, ext: str) -> None:
    stereo = np.stack([tone(1.0, sr=44_100), tone(1.0, sr=44_100)], axis=1)
    path = write(tmp_path / f"in.{ext}", stereo, 44_100)
    mono = load(path, sample_rate=SR)
    assert mono.dtype == np.float32
    assert mono.ndim == 1
    assert abs(mono.shape[0] - SR) < 0.06 * SR  # mp3/ogg carry encoder padding
    both = load(path, sample_rate=22_050, mono=False)
    assert both.shape[0] == 2


def test_load_window(tmp_path: Path) -> None:
    path = write(tmp_path / "w.wav", tone(3.0))
    part = load(path, sample_rate=SR, start_s=1.0, duration_s=0.5)
    assert part.shape == (SR // 2,)
    np.testing.assert_allclose(part, tone(3.0)[SR : SR + SR // 2], atol=1e-4)


@pytest.mark.parametrize("ext", FORMATS)
def test_save_round_trip(tmp_path: Path, ext: str) -> None:
    audio = tone(1.0)
    path = save(tmp_path / "sub" / f"out.{ext}", audio, SR)
    back = load(path, sample_rate=SR)
    if ext in ("wav", "flac"):
        np.testing.assert_allclose(back, audio, atol=1e-4)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_save_rejects_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="extension"):
        save(tmp_path / "x.xyz", tone(0.1), SR)


def test_loudness_matches_bs1770_reference() -> None:
    # BS.1770: a full-scale 997 Hz sine in one channel reads -3.01 LKFS.
    sr = 48_000
    sine = tone(5.0, sr=sr, amp=1.0, freq=997.0)
    assert integrated_loudness(sine, sr) == pytest.approx(-3.01, abs=0.05)
    assert integrated_loudness(np.zeros(sr, dtype=np.float32), sr) == -math.inf


def test_normalize_loudness_hits_target_and_respects_peak() -> None:
    audio = tone(3.0, amp=0.01)
    out = normalize_loudness(audio, SR, target_lufs=-20.0)
    assert integrated_loudness(out, SR) == pytest.approx(-20.0, abs=0.1)
    loud = normalize_loudness(audio, SR, target_lufs=0.0, peak_dbfs=-1.0)
    assert np.max(np.abs(loud)) <= 10 ** (-1 / 20) + 1e-6
