"""Micro-batching: conversion chunks of concurrently running jobs that share a loaded model are
rendered together.

Each job's thread hands its chunk requests to the model's ``MicroBatcher`` and blocks; one
batcher thread per model takes what is queued, waits at most ``max_wait_s`` after the oldest
request for more (and not at all once every job using the model has handed in its chunk),
renders up to ``max_batch`` requests in one call (``VoiceModel.render_batch``: one padded
decoder pass, one retrieval, one DDSP synthesis) and hands each result back to its thread.
If a batch fails, its requests are rendered one by one, so a bad chunk fails only its own job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger("studio.jobs.batcher")
Req = TypeVar("Req")
Out = TypeVar("Out")


@dataclass
class BatchStats:
    """What a batcher has done: ``sizes`` counts batches by their size."""

    batches: int = 0
    items: int = 0
    largest: int = 0
    sizes: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "items": self.items,
            "largest": self.largest,
            "sizes": {str(k): v for k, v in sorted(self.sizes.items())},
        }


class _Slot(Generic[Req, Out]):
    __slots__ = ("caller", "done", "error", "request", "result")

    def __init__(self, request: Req, caller: int) -> None:
        self.request = request
        self.caller = caller
        self.done = threading.Event()
        self.result: Out | None = None
        self.error: BaseException | None = None


class MicroBatcher(Generic[Req, Out]):
    """Gathers requests from several threads into calls of ``render_batch`` (see module doc)."""

    def __init__(
        self,
        render_batch: Callable[[list[Req]], list[Out]],
        *,
        max_batch: int,
        max_wait_s: float,
        name: str,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._render_batch = render_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.name = name
        self.stats = BatchStats()
        self._queue: list[_Slot[Req, Out]] = []
        self._cond = threading.Condition()
        self._clients = 0  # threads that may hand in requests (jobs using the model)
        self._closed = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def client(self) -> Iterator[None]:
        """Marks the calling job as a user for as long as it converts: while some user has
        not handed in a request yet, a batch waits for it (up to ``max_wait_s``)."""
        with self._cond:
            self._clients += 1
        try:
            yield
        finally:
            with self._cond:
                self._clients -= 1
                self._cond.notify_all()

    def render(self, requests: list[Req]) -> list[Out]:
        """Render ``requests`` (blocking), batched with whatever other threads hand in."""
        caller = threading.get_ident()
        slots = [_Slot[Req, Out](r, caller) for r in requests]
        with self._cond:
            if self._closed:
                raise RuntimeError(f"batcher {self.name} is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, daemon=True, name=f"batcher-{self.name[:12]}"
                )
                self._thread.start()
            self._queue.extend(slots)
            self._cond.notify_all()
        out = []
        for slot in slots:
            slot.done.wait()
            if slot.error is not None:
                raise slot.error
            out.append(slot.result)
        return out  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the batcher thread once the queue is empty (requests in flight still finish)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._queue and self._clients == 0

    def _ready(self) -> bool:
        """Everyone who may still hand in a request has done so: waiting gains nothing."""
        if len(self._queue) >= self.max_batch:
            return True
        waiting = len({s.caller for s in self._queue})
        return self._clients > 0 and waiting >= self._clients

    def _take(self) -> list[_Slot[Req, Out]] | None:
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            deadline = time.monotonic() + self.max_wait_s
            while not self._ready() and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch = self._queue[: self.max_batch]
            del self._queue[: self.max_batch]
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            started = time.perf_counter()
            try:
                results = self._render_batch([s.request for s in batch])
                for slot, result in zip(batch, results, strict=True):
                    slot.result = result
            except Exception as exc:  # noqa: BLE001 - handed back to the callers' threads
                if len(batch) == 1:
                    batch[0].error = exc
                else:
                    self._one_by_one(batch)
            finally:
                self._account(len(batch), time.perf_counter() - started)
                for slot in batch:
                    if slot.result is None and slot.error is None:
                        slot.error = RuntimeError("the batch was aborted")
                    slot.done.set()

    def _account(self, n: int, wall_s: float) -> None:
        self.stats.batches += 1
        self.stats.items += n
        self.stats.largest = max(self.stats.largest, n)
        self.stats.sizes[n] += 1
        log.debug(
            "rendered a batch",
            extra={"model": self.name, "batch": n, "ms": round(1000 * wall_s, 1)},
        )

    def _one_by_one(self, batch: list[_Slot[Req, Out]]) -> None:
        for slot in batch:
            try:
                slot.result = self._render_batch([slot.request])[0]
            except Exception as exc:  # noqa: BLE001 - handed back to the caller's thread
                slot.error = exc
