"""What a worker does with a claimed job: the same code in-process and in Celery workers.

Inputs are downloaded from the object store into a scratch directory, the voice model does
the work, and results go back through the object store; uploads are never deleted. Progress
calls double as cancellation points: once the job is no longer this worker's (cancelled or
re-queued), the next progress call aborts the work."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from studio.db.models import Job, JobInput, Upload, VoiceModel
from studio.jobs import store as jobs
from studio.jobs.model_cache import ModelCache, publish_artifact
from studio.services import Services
from voice_model.errors import VoiceModelError

log = logging.getLogger("studio.jobs")
PROGRESS_INTERVAL_S = 0.5


class JobAborted(Exception):
    """The job was cancelled or handed to another worker; stop without writing anything."""


class TimeBudgetExceeded(Exception):
    pass


@dataclass
class JobRuntime:
    services: Services
    models: ModelCache
    worker_id: str


class Reporter:
    """Throttled, fenced progress reporting; also enforces a time budget."""

    def __init__(self, rt: JobRuntime, job_id: uuid.UUID, budget_s: float | None) -> None:
        self.rt = rt
        self.job_id = job_id
        self.deadline = time.monotonic() + budget_s if budget_s else None
        self.last = 0.0
        self.aborted = threading.Event()

    def __call__(self, fraction: float, stage: str) -> None:
        if self.aborted.is_set():
            raise JobAborted
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeBudgetExceeded
        now = time.monotonic()
        if now - self.last < PROGRESS_INTERVAL_S and fraction < 1.0:
            return
        self.last = now
        with self.rt.services.db() as db:
            ok = jobs.progress(
                db,
                self.job_id,
                self.rt.worker_id,
                100.0 * fraction,
                stage,
                self.rt.services.clock(),
            )
        if not ok:
            self.aborted.set()
            raise JobAborted


def _heartbeat_loop(
    rt: JobRuntime, job_id: uuid.UUID, reporter: Reporter, stop: threading.Event
) -> None:
    """Keeps the job's heartbeat fresh while long steps run without progress calls."""
    interval = rt.services.settings.job_heartbeat_s
    while not stop.wait(interval):
        try:
            with rt.services.db() as db:
                if not jobs.heartbeat(db, job_id, rt.worker_id, rt.services.clock()):
                    reporter.aborted.set()
                    return
        except Exception:  # noqa: BLE001 - a DB blip: the next beat retries
            log.warning("heartbeat failed", extra={"job_id": str(job_id)})


def _inputs(rt: JobRuntime, job: Job) -> list[tuple[Upload, str]]:
    with rt.services.db() as db:
        rows = db.execute(
            select(Upload, JobInput.role)
            .join(JobInput, JobInput.upload_id == Upload.id)
            .where(JobInput.job_id == job.id)
            .order_by(Upload.created_at)
        ).all()
        return [(u, role) for u, role in rows]


def _download(rt: JobRuntime, upload: Upload, directory: Path, name: str) -> Path:
    path = directory / f"{name}.{upload.format}"
    rt.services.store.download(upload.sha256, path)
    return path


def _run_train(rt: JobRuntime, job: Job, work: Path, report: Reporter) -> str:
    refs = [
        _download(rt, upload, work, f"ref-{i}")
        for i, (upload, role) in enumerate(_inputs(rt, job))
        if role == "reference"
    ]
    from voice_model.train import train  # torch: imported only where jobs run

    params: dict[str, Any] = job.params
    report(0.01, "preparing")
    model = train(
        refs,
        method=params.get("method", rt.services.settings.train_method),
        mode=params.get("mode", "speech"),
        device=rt.services.settings.device,
        max_minutes=float(params.get("max_minutes", 10.0)),
        progress=lambda f, s: report(0.02 + 0.93 * f, s),
    )
    report(0.96, "saving model")
    model.save(work / "model")
    return publish_artifact(rt.services.store, work / "model")


def _run_convert(rt: JobRuntime, job: Job, work: Path, report: Reporter) -> str:
    from voice_model.convert import ConvertOptions, convert_file

    inputs = _inputs(rt, job)
    vocal = next(u for u, role in inputs if role == "input")
    backing = next((u for u, role in inputs if role == "accompaniment"), None)
    with rt.services.db() as db:
        vm = db.get(VoiceModel, job.voice_model_id)
        artifact = vm.artifact_sha256 if vm is not None else None
    if artifact is None:
        raise VoiceModelError("The voice model has no trained artifact.")
    params: dict[str, Any] = job.params
    options = ConvertOptions(
        transpose=float(params.get("transpose", 0.0)),
        index_rate=float(params.get("index_rate", ConvertOptions.index_rate)),
        protect=float(params.get("protect", ConvertOptions.protect)),
    )
    out = work / "converted.wav"
    report(0.01, "loading model")
    # Leased: never evicted while this job runs. Its chunks go through the model's
    # micro-batcher, rendered together with those of other jobs using the same model.
    with rt.models.lease(artifact) as loaded:
        vocal_path = _download(rt, vocal, work, "input")
        backing_path = _download(rt, backing, work, "accompaniment") if backing else None
        convert_file(
            loaded.model,
            vocal_path,
            out,
            options=options,
            accompaniment=backing_path,
            progress=lambda f, s: report(0.05 + 0.9 * f, s),
            render=loaded.render,
        )
    report(0.97, "storing result")
    return rt.services.store.put_file(out, content_type="audio/wav").sha256


def execute(rt: JobRuntime, job: Job) -> None:
    """Run a job this worker has claimed, to succeeded or failed (or abort if taken away)."""
    settings = rt.services.settings
    budget = settings.train_time_budget_s if job.kind == "train" else None
    report = Reporter(rt, job.id, budget)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat_loop, args=(rt, job.id, report, stop), daemon=True)
    beat.start()
    scratch = settings.tmp_dir / "jobs"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=scratch, prefix=f"{job.id}-") as tmp:
            work = Path(tmp)
            if job.kind == "train":
                result = _run_train(rt, job, work, report)
            else:
                result = _run_convert(rt, job, work, report)
        _finish(rt, job, result)
    except JobAborted:
        log.info("job taken away from this worker", extra={"job_id": str(job.id)})
    except TimeBudgetExceeded:
        _fail(rt, job, "time_budget_exceeded", "The job ran past its time budget.")
    except VoiceModelError as exc:
        _fail(rt, job, exc.code, exc.message)
    except Exception:
        log.exception("job crashed", extra={"job_id": str(job.id)})
        _fail(rt, job, "internal_error", "The job failed unexpectedly; please try again.")
    finally:
        stop.set()


def _finish(rt: JobRuntime, job: Job, result: str) -> None:
    now = rt.services.clock()
    with rt.services.db() as db:
        if not jobs.succeed(db, job.id, rt.worker_id, result, now):
            return  # cancelled meanwhile: the stored object is orphaned, never reported
        if job.kind == "train" and job.voice_model_id is not None:
            vm = db.get(VoiceModel, job.voice_model_id)
            assert vm is not None
            vm.status = "ready"
            vm.artifact_sha256 = result
            vm.method = job.params.get("method", rt.services.settings.train_method)
        db.commit()


def _fail(rt: JobRuntime, job: Job, code: str, message: str) -> None:
    with rt.services.db() as db:
        failed = jobs.fail(db, job.id, rt.worker_id, code, message, rt.services.clock())
        if failed and job.kind == "train" and job.voice_model_id is not None:
            vm = db.get(VoiceModel, job.voice_model_id)
            if vm is not None and vm.status == "training":
                vm.status = "draft"
                db.commit()
