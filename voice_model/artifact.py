"""Model artifacts: safetensors weights + a JSON card, addressed by sha256.

Layout of an artifact directory::

    card.json            format version, method, sample rate, feature config, training-data
                         sha256s, training metrics, and ``weights_sha256``
    weights.safetensors  every array (float32), no code, never unpickled
    MODEL_SHA256         sha256 of card.json's bytes: the artifact's id

The id commits to the card, the card to the weights, so one 64-hex string names the whole
model. ``load_artifact`` recomputes both hashes and checks the format version; callers
that hold the id from elsewhere (the service's database) pass it as ``expected_sha256``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from voice_model.errors import ModelError, ModelTampered, ModelVersionUnsupported

FORMAT_VERSION = 1
CARD, WEIGHTS, ID_FILE = "card.json", "weights.safetensors", "MODEL_SHA256"


def sha256_file(path: Path, *, block: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in ``block``-byte pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_artifact(out_dir: Path, card: dict[str, Any], tensors: dict[str, npt.NDArray[Any]]) -> str:
    """Write the artifact to ``out_dir``; returns its id (sha256 of the card bytes)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = st_save(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sorted(tensors.items())},
        metadata={"format_version": str(FORMAT_VERSION)},
    )
    full = {
        **card,
        "format_version": FORMAT_VERSION,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
    }
    card_bytes = (json.dumps(full, indent=2, sort_keys=True) + "\n").encode()
    model_id = hashlib.sha256(card_bytes).hexdigest()
    _write_atomic(out_dir / WEIGHTS, weights)
    _write_atomic(out_dir / CARD, card_bytes)
    _write_atomic(out_dir / ID_FILE, (model_id + "\n").encode())
    return model_id


def load_artifact(
    model_dir: Path, *, expected_sha256: str | None = None
) -> tuple[str, dict[str, Any], dict[str, npt.NDArray[np.float32]]]:
    """Read and verify an artifact: ``(id, card, tensors)``.

    Raises ``ModelError`` (missing/malformed), ``ModelVersionUnsupported`` and
    ``ModelTampered`` (card or weights do not match their hashes).
    """
    model_dir = Path(model_dir)
    try:
        card_bytes = (model_dir / CARD).read_bytes()
        weights = (model_dir / WEIGHTS).read_bytes()
        recorded = expected_sha256 or (model_dir / ID_FILE).read_text().strip()
    except OSError as exc:
        raise ModelError(f"No readable model at {model_dir.name}.", reason=str(exc)) from exc
    model_id = hashlib.sha256(card_bytes).hexdigest()
    if model_id != recorded.lower():
        raise ModelTampered(
            "The model card does not match the model's sha256.", expected=recorded, actual=model_id
        )
    try:
        card = json.loads(card_bytes)
    except ValueError as exc:
        raise ModelError("The model card is not valid JSON.") from exc
    if not isinstance(card, dict):
        raise ModelError("The model card is not a JSON object.")
    version = card.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelVersionUnsupported(
            f"Model format version {version!r} is not supported (expected {FORMAT_VERSION}).",
            format_version=version,
        )
    actual = hashlib.sha256(weights).hexdigest()
    if actual != card.get("weights_sha256"):
        raise ModelTampered(
            "The model weights do not match the sha256 in the card.",
            expected=card.get("weights_sha256"),
            actual=actual,
        )
    try:
        tensors = st_load(weights)
    except (SafetensorError, ValueError) as exc:
        raise ModelError("The model weights are not a valid safetensors file.") from exc
    return model_id, card, {k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}
