"""Celery at scale: the same job code as the embedded runner, in ``timbre worker`` processes.

The broker only carries job ids; the database row stays the state of record. Tasks are acked
late and rejected when their worker is lost, so Redis redelivers them; a redelivered or
duplicate task claims its job only if the job is queued (``studio.jobs.store.claim``), so a job
runs to completion once even when its message is delivered twice."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from celery import Celery

from studio.jobs import store as jobs
from studio.jobs.embedded import reap, worker_name
from studio.jobs.model_cache import ModelCache
from studio.jobs.runners import JobRuntime, execute
from studio.services import Services, build_services
from studio.settings import Settings, get_settings

log = logging.getLogger("studio.jobs")
TASK = "timbre.run_job"


def make_celery(settings: Settings) -> Celery:
    app = Celery("timbre", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=settings.celery_queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,  # keep our JSON log lines
        # ...and let them reach stderr: a redirected stderr would feed them back into logging,
        # where they were dropped
        worker_redirect_stdouts=False,
        broker_transport_options={
            "visibility_timeout": settings.celery_visibility_timeout_s,
            "unacked_restore_interval": 1,
            "unacked_restore_throttle": 1,
        },
    )
    app.task(name=TASK, ignore_result=True)(run_job)
    return app


def dispatch_to_celery(settings: Settings) -> Callable[[uuid.UUID], None]:
    app = make_celery(settings)

    def send(job_id: uuid.UUID) -> None:
        app.send_task(TASK, args=[str(job_id)], queue=settings.celery_queue)

    return send


class _WorkerState:
    """Per worker process: services and the model cache, built once."""

    services: Services | None = None
    models: ModelCache | None = None


_STATE_LOCK = threading.Lock()


def _runtime() -> JobRuntime:
    # With --pool=threads several tasks start at once: build one set of services and one
    # model cache (hence one micro-batcher per model) for all of them.
    with _STATE_LOCK:
        if _WorkerState.services is None:
            services = build_services(get_settings())
            _WorkerState.models = ModelCache.for_settings(services.store, services.settings)
            _WorkerState.services = services
    assert _WorkerState.services is not None and _WorkerState.models is not None
    return JobRuntime(_WorkerState.services, _WorkerState.models, worker_name("celery"))


def run_job(job_id: str) -> str:
    """Celery task body: claim the job if it is queued, then run it. Idempotent."""
    rt = _runtime()
    services = rt.services
    reap(services)  # a redelivery after a worker died: make its job claimable again
    with services.db() as db:
        job = jobs.claim(db, rt.worker_id, services.clock(), job_id=uuid.UUID(job_id))
    if job is None:
        return "skipped"  # finished, cancelled or running elsewhere
    execute(rt, job)
    return "done"


def start_reaper(services: Services, dispatch: Callable[[uuid.UUID], None]) -> threading.Event:
    """Periodically re-queue jobs of lost workers and send them to the broker again."""
    stop = threading.Event()
    interval = min(services.settings.job_stale_after_s / 2, 10.0)

    def loop() -> None:
        resend_after = timedelta(seconds=services.settings.celery_visibility_timeout_s * 2)
        while not stop.wait(interval):
            try:
                reap(services)  # lost workers' jobs become queued again...
                with services.db() as db:  # ...and, with never-sent ones, go to the broker
                    pending = jobs.undispatched(db, services.clock(), resend_after)
                for job_id in pending:
                    dispatch(job_id)
                    with services.db() as db:
                        jobs.mark_dispatched(db, job_id, services.clock())
            except Exception:
                log.exception("re-queueing stale jobs failed")

    threading.Thread(target=loop, daemon=True, name="job-reaper").start()
    return stop


def worker_main(settings: Settings, concurrency: int = 1) -> None:
    app = make_celery(settings)
    services = build_services(settings)
    start_reaper(services, dispatch_to_celery(settings))
    app.worker_main(
        [
            "worker",
            "--pool=solo" if concurrency == 1 else "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={settings.celery_queue}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
    )
