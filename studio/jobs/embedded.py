"""The embedded job runner started by ``timbre run``: worker threads in the API process that
claim jobs from the database, plus a reaper that re-queues jobs whose worker died."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from studio.jobs import store as jobs
from studio.jobs.model_cache import ModelCache
from studio.jobs.runners import JobRuntime, execute
from studio.services import Services

log = logging.getLogger("studio.jobs")
IDLE_POLL_S = 1.0


def worker_name(suffix: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{suffix}"


def reap(services: Services) -> list[str]:
    """Re-queue (or fail) jobs whose worker stopped heartbeating."""
    stale = timedelta(seconds=services.settings.job_stale_after_s)
    with services.db() as db:
        return [str(i) for i in jobs.requeue_stale(db, services.clock(), stale)]


class EmbeddedWorkers:
    def __init__(self, services: Services, count: int) -> None:
        self.services = services
        self.count = count
        self.models = ModelCache.for_settings(services.store, services.settings)
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        reap(self.services)  # jobs left running by a previous process
        for i in range(self.count):
            t = threading.Thread(target=self._loop, args=(f"w{i}",), daemon=True, name=f"job-{i}")
            t.start()
            self._threads.append(t)
        reaper = threading.Thread(target=self._reaper, daemon=True, name="job-reaper")
        reaper.start()
        self._threads.append(reaper)

    def wake(self) -> None:
        """A job was queued: let an idle worker claim it now rather than at its next poll."""
        with self._wake:
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        # Running jobs are not waited for: their heartbeats stop, and the next process's reaper
        # re-queues them. Nothing is lost, at worst work is redone.
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        for t in self._threads:
            t.join(timeout=timeout / max(len(self._threads), 1))

    def _loop(self, suffix: str) -> None:
        rt = JobRuntime(self.services, self.models, worker_name(suffix))
        while not self._stop.is_set():
            try:
                with self.services.db() as db:
                    job = jobs.claim(db, rt.worker_id, self.services.clock())
            except Exception:
                log.exception("claiming a job failed")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(IDLE_POLL_S)
                continue
            execute(rt, job)

    def _reaper(self) -> None:
        interval = min(self.services.settings.job_stale_after_s / 2, 10.0)
        while not self._stop.wait(interval):
            try:
                requeued = reap(self.services)
            except Exception:
                log.exception("re-queueing stale jobs failed")
                continue
            if requeued:
                log.warning("re-queued jobs of a lost worker", extra={"jobs": requeued})
                self.wake()
