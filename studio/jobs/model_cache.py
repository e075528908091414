"""Voice models loaded once per worker process and kept in a bounded LRU cache.

Artifacts live in the object store as two content-addressed objects: the JSON card (its
sha256 is the model id) and the safetensors weights (named in the card). Loading verifies both
hashes (``voice_model.artifact``) and never unpickles."""

from __future__ import annotations

import json
import shutil
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from storage import ObjectStore
from voice_model.artifact import CARD, ID_FILE, WEIGHTS

if TYPE_CHECKING:  # torch is imported only by processes that run jobs
    from voice_model.model import VoiceModel


def publish_artifact(store: ObjectStore, model_dir: Path) -> str:
    """Store a saved artifact; returns the model id (sha256 of its card)."""
    model_id = (model_dir / ID_FILE).read_text().strip()
    weights_sha = json.loads((model_dir / CARD).read_bytes())["weights_sha256"]
    store.put_file(model_dir / WEIGHTS, expected_sha256=weights_sha)
    store.put_file(model_dir / CARD, expected_sha256=model_id, content_type="application/json")
    return model_id


def fetch_artifact(store: ObjectStore, model_id: str, dest: Path) -> Path:
    """Materialise an artifact directory from the store (both hashes checked on download)."""
    dest.mkdir(parents=True, exist_ok=True)
    store.download(model_id, dest / CARD)
    weights_sha = json.loads((dest / CARD).read_bytes())["weights_sha256"]
    store.download(weights_sha, dest / WEIGHTS)
    (dest / ID_FILE).write_text(model_id + "\n")
    return dest


class ModelCache:
    """LRU of loaded models, bounded by count; one load per model even under concurrency."""

    def __init__(self, store: ObjectStore, cache_dir: Path, *, capacity: int, device: str) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.capacity = capacity
        self.device = device
        self._models: OrderedDict[str, VoiceModel] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def get(self, model_id: str) -> VoiceModel:
        with self._lock:
            if model_id in self._models:
                self._models.move_to_end(model_id)
                return self._models[model_id]
            key_lock = self._loading.setdefault(model_id, threading.Lock())
        with key_lock:
            with self._lock:
                if model_id in self._models:
                    return self._models[model_id]
            directory = self.cache_dir / model_id
            if directory.exists():
                shutil.rmtree(directory)  # re-fetch: a previous process may have died mid-way
            fetch_artifact(self.store, model_id, directory)
            from voice_model.model import VoiceModel

            model = VoiceModel.load(directory, expected_sha256=model_id, device=self.device)
            with self._lock:
                self._models[model_id] = model
                while len(self._models) > self.capacity:
                    evicted, _ = self._models.popitem(last=False)
                    shutil.rmtree(self.cache_dir / evicted, ignore_errors=True)
                self._loading.pop(model_id, None)
            return model

    def __len__(self) -> int:
        return len(self._models)
