"""Model artifacts: round trip, sha256 addressing, tamper and version detection, no pickle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from voice_model import artifact
from voice_model.errors import ModelError, ModelTampered, ModelVersionUnsupported
from voice_model.model import VoiceModel


def test_round_trip(slt_models: dict[str, Path]) -> None:
    for method, path in slt_models.items():
        model = VoiceModel.load(path, device="cpu")
        assert model.method == method
        assert model.model_id == (path / "MODEL_SHA256").read_text().strip()
        assert model.card["format_version"] == artifact.FORMAT_VERSION
        assert model.card["sample_rate"] == model.cfg.sample_rate
        assert len(model.card["training_data"][0]["sha256"]) == 64
        assert (model.decoder is None) == (method == "baseline")
        again = VoiceModel.load(path, expected_sha256=model.model_id, device="cpu")
        np.testing.assert_array_equal(again.target.mcep_mean, model.target.mcep_mean)
        # safetensors: an 8-byte header length then JSON; nothing a pickle loader would read.
        head = (path / artifact.WEIGHTS).read_bytes()[:9]
        assert head[8:9] == b"{"


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "m"
    shutil.copytree(src, dst)
    return dst


def test_tampered_weights_are_rejected(slt_models: dict[str, Path], tmp_path: Path) -> None:
    m = _copy(slt_models["neural"], tmp_path)
    data = bytearray((m / artifact.WEIGHTS).read_bytes())
    data[-5] ^= 0x01
    (m / artifact.WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelTampered) as exc:
        VoiceModel.load(m, device="cpu")
    assert exc.value.code == "model_tampered"


def test_tampered_card_is_rejected(slt_models: dict[str, Path], tmp_path: Path) -> None:
    m = _copy(slt_models["baseline"], tmp_path)
    card = json.loads((m / artifact.CARD).read_text())
    card["mode"] = "singing"
    (m / artifact.CARD).write_text(json.dumps(card))
    with pytest.raises(ModelTampered):
        VoiceModel.load(m, device="cpu")


def test_wrong_expected_sha_is_rejected(slt_models: dict[str, Path]) -> None:
    with pytest.raises(ModelTampered):
        VoiceModel.load(slt_models["baseline"], expected_sha256="0" * 64, device="cpu")


def test_unknown_version_is_rejected(slt_models: dict[str, Path], tmp_path: Path) -> None:
    m = _copy(slt_models["baseline"], tmp_path)
    card = json.loads((m / artifact.CARD).read_text())
    card["format_version"] = 99
    body = json.dumps(card).encode()
    (m / artifact.CARD).write_bytes(body)
    (m / artifact.ID_FILE).write_text(__import__("hashlib").sha256(body).hexdigest())
    with pytest.raises(ModelVersionUnsupported):
        VoiceModel.load(m, device="cpu")


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError):
        VoiceModel.load(tmp_path / "nothing", device="cpu")


def test_artifact_id_is_content_address(tmp_path: Path) -> None:
    tensors = {"a": np.arange(4, dtype=np.float32)}
    id1 = artifact.save_artifact(tmp_path / "x", {"k": 1}, tensors)
    id2 = artifact.save_artifact(tmp_path / "y", {"k": 1}, tensors)
    id3 = artifact.save_artifact(tmp_path / "z", {"k": 2}, tensors)
    assert id1 == id2 != id3
    got_id, card, got = artifact.load_artifact(tmp_path / "x")
    assert got_id == id1 and card["k"] == 1
    np.testing.assert_array_equal(got["a"], tensors["a"])
