"""File conversion: chunked equals whole away from chunk borders, accompaniment, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voice_model.audio import integrated_loudness, load, save
from voice_model.cli import main
from voice_model.convert import ConvertOptions, convert_file
from voice_model.model import VoiceModel


def _borders_mask(n: int, sr: int, chunk_s: float, guard_s: float) -> np.ndarray:
    keep = np.ones(n, dtype=bool)
    k = 1
    while k * chunk_s * sr < n:
        c = int(k * chunk_s * sr)
        keep[max(0, c - int(guard_s * sr)) : c + int(guard_s * sr)] = False
        k += 1
    return keep


def test_chunked_equals_whole_neural(
    voices: object, neural_slt: VoiceModel, tmp_path: Path
) -> None:
    src = voices.test["awb"]  # type: ignore[attr-defined]
    whole = convert_file(
        neural_slt, src, tmp_path / "whole.wav", options=ConvertOptions(chunk_s=1000.0)
    )
    opts = ConvertOptions(chunk_s=1.5, overlap_s=0.5, margin_s=0.25)
    chunked = convert_file(neural_slt, src, tmp_path / "chunked.wav", options=opts)
    assert whole.chunks == 1 and chunked.chunks > 2
    a, sr = sf.read(tmp_path / "whole.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "chunked.wav", dtype="float32")
    assert a.shape == b.shape
    keep = _borders_mask(a.shape[0], sr, opts.chunk_s, opts.overlap_s)
    peak = float(np.max(np.abs(a)))
    err = np.abs(a - b)[keep]
    assert float(np.percentile(err, 99.5)) < 0.01 * peak
    # and inside the cross-fades, no seam: still close to the whole-file rendering
    assert float(np.sqrt(np.mean((a - b) ** 2))) < 0.05 * float(np.sqrt(np.mean(a**2)))


def test_chunked_close_to_whole_baseline(
    voices: object, slt_models: dict[str, Path], tmp_path: Path
) -> None:
    model = VoiceModel.load(slt_models["baseline"], device="cpu")
    src = voices.test["rms"]  # type: ignore[attr-defined]
    convert_file(model, src, tmp_path / "w.wav", options=ConvertOptions(chunk_s=1000.0))
    convert_file(
        model,
        src,
        tmp_path / "c.wav",
        options=ConvertOptions(chunk_s=1.5, overlap_s=0.5, margin_s=0.25),
    )
    a, sr = sf.read(tmp_path / "w.wav", dtype="float32")
    b, _ = sf.read(tmp_path / "c.wav", dtype="float32")
    # WORLD's noise restarts with every call, so compare 50 ms energy envelopes.
    hop = sr // 20
    ea = np.sqrt(np.mean(a[: len(a) // hop * hop].reshape(-1, hop) ** 2, axis=1)) + 1e-4
    eb = np.sqrt(np.mean(b[: len(b) // hop * hop].reshape(-1, hop) ** 2, axis=1)) + 1e-4
    loud = ea > 0.05 * ea.max()
    assert np.median(np.abs(20 * np.log10(eb / ea))[loud]) < 1.0


def test_output_matches_input_loudness_and_rate(
    voices: object, neural_slt: VoiceModel, tmp_path: Path
) -> None:
    src_audio = load(voices.test["rms"], sample_rate=24_000)  # type: ignore[attr-defined]
    src = save(tmp_path / "in44.wav", src_audio, 24_000)
    data, _ = sf.read(src, dtype="float32")
    sf.write(
        tmp_path / "in44k.wav",
        np.interp(
            np.arange(int(len(data) * 44_100 / 24_000)) * 24_000 / 44_100,
            np.arange(len(data)),
            data,
        ).astype(np.float32),
        44_100,
    )
    res = convert_file(neural_slt, tmp_path / "in44k.wav", tmp_path / "out.flac")
    out, sr = sf.read(tmp_path / "out.flac", dtype="float32")
    assert sr == 44_100 and res.sample_rate == 44_100
    assert abs(out.shape[0] / sr - res.duration_s) < 0.05
    src44, _ = sf.read(tmp_path / "in44k.wav", dtype="float32")
    assert integrated_loudness(out, sr) == pytest.approx(integrated_loudness(src44, sr), abs=1.0)


def test_accompaniment_is_mixed_back(
    voices: object, neural_slt: VoiceModel, tmp_path: Path
) -> None:
    src = voices.test["awb"]  # type: ignore[attr-defined]
    info = sf.info(str(src))
    n = int((info.duration + 1.0) * info.samplerate)
    t = np.arange(n) / info.samplerate
    acc = np.stack([0.1 * np.sin(2 * np.pi * 110 * t), 0.1 * np.sin(2 * np.pi * 165 * t)], 1)
    sf.write(tmp_path / "acc.wav", acc.astype(np.float32), info.samplerate)
    convert_file(neural_slt, src, tmp_path / "mix.wav", accompaniment=tmp_path / "acc.wav")
    convert_file(neural_slt, src, tmp_path / "dry.wav")
    mix, _ = sf.read(tmp_path / "mix.wav", dtype="float32")
    dry, _ = sf.read(tmp_path / "dry.wav", dtype="float32")
    assert mix.shape == (n, 2)  # as long as the longer input, stereo like the backing
    np.testing.assert_allclose(mix[len(dry) + 100 :, 0], acc[len(dry) + 100 :, 0], atol=2e-3)
    residual = mix[: len(dry), 0] - acc[: len(dry), 0]
    assert np.corrcoef(residual, dry)[0, 1] > 0.98


def test_cli_train_convert_and_errors(
    voices: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ref = voices.train["slt"]  # type: ignore[attr-defined]
    rc = main(
        [
            "--quiet",
            "train",
            "--reference",
            str(ref),
            "--out",
            str(tmp_path / "m"),
            "--method",
            "baseline",
            "--device",
            "cpu",
            "--pitch-method",
            "fcpe",
        ]
    )
    assert rc == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["feature_config"]["pitch_method"] == "fcpe"
    assert len(trained["model_sha256"]) == 64
    rc = main(
        [
            "--quiet",
            "convert",
            "--model",
            str(tmp_path / "m"),
            "--input",
            str(voices.test["awb"]),
            "--out",
            str(tmp_path / "o.wav"),  # type: ignore[attr-defined]
            "--transpose",
            "2",
            "--model-sha256",
            trained["model_sha256"],
        ]
    )
    assert rc == 0
    done = json.loads(capsys.readouterr().out)
    assert done["model_sha256"] == trained["model_sha256"] and done["rtf"] > 0
    silent = save(tmp_path / "silent.wav", np.zeros(24_000, dtype=np.float32), 24_000)
    rc = main(
        [
            "--quiet",
            "convert",
            "--model",
            str(tmp_path / "m"),
            "--input",
            str(silent),
            "--out",
            str(tmp_path / "x.wav"),
        ]
    )
    assert rc == 3
    err = json.loads(capsys.readouterr().err)
    assert err["error"]["code"] == "audio_silent"
    rc = main(
        [
            "--quiet",
            "convert",
            "--model",
            str(tmp_path / "nope"),
            "--input",
            str(silent),
            "--out",
            str(tmp_path / "x.wav"),
        ]
    )
    assert rc == 4
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "model_invalid"
    short = save(tmp_path / "short.wav", np.full(24_000 * 2, 0.1, dtype=np.float32), 24_000)
    rc = main(["--quiet", "train", "--reference", str(short), "--out", str(tmp_path / "m2")])
    assert rc == 3
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "audio_too_short"
