"""Voice models loaded once per worker process and kept in an LRU cache bounded by memory.

Artifacts live in the object store as two content-addressed objects: the JSON card (its
sha256 is the model id) and the safetensors weights (named in the card). Loading verifies both
hashes (``voice_model.artifact``) and never unpickles.

The cache is bounded by the bytes its models hold (weights, retrieval index, statistics; see
``VoiceModel.nbytes``) and by a count. Jobs take a model with ``lease``: a leased model (one a
running job, hence its micro-batcher, is using) is never evicted, and each loaded model has one
``MicroBatcher`` that renders the chunks of all jobs using it together."""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storage import ObjectStore
from studio.jobs.batcher import BatchStats, MicroBatcher
from studio.settings import Settings
from voice_model.artifact import CARD, ID_FILE, WEIGHTS

log = logging.getLogger("studio.jobs")

if TYPE_CHECKING:  # torch is imported only by processes that run jobs
    from voice_model.model import Rendered, RenderRequest, VoiceModel


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


@dataclass
class _Entry:
    model: VoiceModel
    batcher: MicroBatcher[RenderRequest, Rendered]
    nbytes: int
    users: int = 0  # leases held by running jobs


@dataclass(frozen=True)
class LoadedModel:
    """A leased model and the micro-batched ``render`` to convert with."""

    model_id: str
    model: VoiceModel
    batcher: MicroBatcher[RenderRequest, Rendered]

    def render(self, requests: list[RenderRequest]) -> list[Rendered]:
        return self.batcher.render(requests)


class ModelCache:
    """LRU of loaded models bounded by ``max_bytes`` and ``capacity`` (count); one load per
    model even under concurrency; leased models are never evicted. The most recently used
    model always stays, even when it alone is larger than ``max_bytes``."""

    def __init__(
        self,
        store: ObjectStore,
        cache_dir: Path,
        *,
        capacity: int,
        device: str,
        max_bytes: int = 1 << 62,
        max_batch: int = 16,
        max_wait_s: float = 0.005,
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.device = device
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self.loads = 0  # models loaded from the store (a test hook for one-load-per-model)

    @classmethod
    def for_settings(cls, store: ObjectStore, settings: Settings) -> ModelCache:
        return cls(
            store,
            settings.var_dir / "models",
            capacity=settings.model_cache_size,
            max_bytes=settings.model_cache_bytes,
            device=settings.device,
            max_batch=settings.render_batch_size,
            max_wait_s=settings.render_batch_wait_ms / 1000.0,
        )

    @contextmanager
    def lease(self, model_id: str) -> Iterator[LoadedModel]:
        """The model, pinned in the cache (and registered with its batcher) until exit."""
        entry = self._acquire(model_id)
        try:
            with entry.batcher.client():
                yield LoadedModel(model_id, entry.model, entry.batcher)
        finally:
            with self._lock:
                entry.users -= 1
                evicted = self._evict_locked()
            self._drop(evicted)
            # the worker's micro-batching figures so far for this model (cumulative)
            log.info(
                "model batching", extra={"model_id": model_id, **entry.batcher.stats.as_dict()}
            )

    def get(self, model_id: str) -> VoiceModel:
        """The model, unpinned: it may be evicted once other models are loaded."""
        with self.lease(model_id) as loaded:
            return loaded.model

    def _acquire(self, model_id: str) -> _Entry:
        with self._lock:
            entry = self._entries.get(model_id)
            if entry is not None:
                self._entries.move_to_end(model_id)
                entry.users += 1
                return entry
            key_lock = self._loading.setdefault(model_id, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(model_id)
                if entry is not None:
                    self._entries.move_to_end(model_id)
                    entry.users += 1
                    return entry
            model = self._load(model_id)
            batcher: MicroBatcher[RenderRequest, Rendered] = MicroBatcher(
                model.render_batch,
                max_batch=self.max_batch,
                max_wait_s=self.max_wait_s,
                name=model_id,
            )
            entry = _Entry(model, batcher, model.nbytes(), users=1)
            with self._lock:
                self._entries[model_id] = entry
                self._loading.pop(model_id, None)
                evicted = self._evict_locked()
        self._drop(evicted)
        return entry

    def _load(self, model_id: str) -> VoiceModel:
        directory = self.cache_dir / model_id
        if directory.exists():
            shutil.rmtree(directory)  # re-fetch: a previous process may have died mid-way
        fetch_artifact(self.store, model_id, directory)
        from voice_model.model import VoiceModel

        model = VoiceModel.load(directory, expected_sha256=model_id, device=self.device)
        with self._lock:
            self.loads += 1
        return model

    def _evict_locked(self) -> list[tuple[str, _Entry]]:
        """Unpinned least recently used models past the bounds (caller holds the lock)."""
        evicted = []
        for model_id in list(self._entries)[:-1]:  # never the most recently used
            if self.nbytes <= self.max_bytes and len(self._entries) <= self.capacity:
                break
            entry = self._entries[model_id]
            if entry.users == 0:
                del self._entries[model_id]
                evicted.append((model_id, entry))
        return evicted

    def _drop(self, evicted: list[tuple[str, _Entry]]) -> None:
        for model_id, entry in evicted:
            entry.batcher.close()
            shutil.rmtree(self.cache_dir / model_id, ignore_errors=True)

    @property
    def nbytes(self) -> int:
        """Bytes held by the loaded models."""
        return sum(e.nbytes for e in self._entries.values())

    def loaded(self) -> list[str]:
        """Model ids, least recently used first."""
        with self._lock:
            return list(self._entries)

    def batch_stats(self) -> dict[str, BatchStats]:
        with self._lock:
            return {k: e.batcher.stats for k, e in self._entries.items()}

    def __len__(self) -> int:
        return len(self._entries)
