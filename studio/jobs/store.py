"""Job state transitions. Every write that a worker makes is fenced on ``(status='running',
worker_id=<its id>)``: once a job was cancelled or handed to another worker, the old worker's
progress, result and failure writes change nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from studio.db.models import Job, JobEvent, JobInput
from studio.errors import Conflict, TimbreError

ACTIVE = ("queued", "running")
TERMINAL = ("succeeded", "failed", "cancelled")


class TooManyRequests(TimbreError):
    status_code = 429
    code = "rate_limited"


@dataclass(frozen=True)
class Limits:
    max_active: int
    max_per_day: int
    max_attempts: int


def _event(db: Session, job: Job, now: datetime, message: str | None = None) -> None:
    db.add(
        JobEvent(
            job_id=job.id,
            status=job.status,
            stage=job.stage,
            percent=job.percent,
            message=message,
            at=now,
        )
    )


def check_quota(db: Session, owner_id: uuid.UUID, now: datetime, limits: Limits) -> None:
    active = db.scalar(
        select(func.count(Job.id)).where(Job.owner_id == owner_id, Job.status.in_(ACTIVE))
    )
    if (active or 0) >= limits.max_active:
        raise TooManyRequests(
            f"You already have {active} jobs queued or running; wait for one to finish.",
            code="too_many_active_jobs",
            detail={"limit": limits.max_active},
        )
    today = db.scalar(
        select(func.count(Job.id)).where(
            Job.owner_id == owner_id, Job.created_at > now - timedelta(days=1)
        )
    )
    if (today or 0) >= limits.max_per_day:
        raise TooManyRequests(
            "You have reached today's job quota.",
            code="job_quota_exceeded",
            detail={"limit": limits.max_per_day},
        )


def find_idempotent(db: Session, owner_id: uuid.UUID, key: str) -> Job | None:
    return db.scalars(
        select(Job).where(Job.owner_id == owner_id, Job.idempotency_key == key)
    ).one_or_none()


def same_request(job: Job, kind: str, params: dict[str, Any]) -> bool:
    return job.kind == kind and job.params == params


def create_job(
    db: Session,
    *,
    owner_id: uuid.UUID,
    kind: str,
    params: dict[str, Any],
    inputs: list[tuple[uuid.UUID, str]],
    voice_model_id: uuid.UUID | None,
    idempotency_key: str | None,
    now: datetime,
    limits: Limits,
) -> Job:
    """Insert a queued job (the caller commits). Quotas are checked first."""
    check_quota(db, owner_id, now, limits)
    job = Job(
        id=uuid.uuid4(),
        owner_id=owner_id,
        kind=kind,
        status="queued",
        stage="queued",
        percent=0.0,
        params=params,
        voice_model_id=voice_model_id,
        input_upload_id=inputs[0][0] if inputs else None,
        idempotency_key=idempotency_key,
        max_attempts=limits.max_attempts,
        created_at=now,
    )
    db.add(job)
    db.flush()
    for upload_id, role in inputs:
        db.add(JobInput(job_id=job.id, upload_id=upload_id, role=role))
    _event(db, job, now)
    return job


def claim(
    db: Session, worker_id: str, now: datetime, job_id: uuid.UUID | None = None
) -> Job | None:
    """Atomically take a queued job (the oldest, or ``job_id``) for ``worker_id``; commits."""
    for _ in range(5):
        query = select(Job.id).where(Job.status == "queued")
        if job_id is not None:
            query = query.where(Job.id == job_id)
        candidate = db.scalar(query.order_by(Job.created_at).limit(1))
        if candidate is None:
            db.rollback()
            return None
        taken = db.execute(
            update(Job)
            .where(Job.id == candidate, Job.status == "queued")
            .values(
                status="running",
                stage="starting",
                worker_id=worker_id,
                attempts=Job.attempts + 1,
                heartbeat_at=now,
                started_at=func.coalesce(Job.started_at, now),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            job = db.get(Job, candidate, populate_existing=True)
            assert job is not None
            _event(db, job, now)
            db.commit()
            return job
        db.rollback()  # another worker won the race; try the next one
    return None


def _fenced(job_id: uuid.UUID, worker_id: str) -> Any:
    return update(Job).where(Job.id == job_id, Job.status == "running", Job.worker_id == worker_id)


def progress(
    db: Session,
    job_id: uuid.UUID,
    worker_id: str,
    percent: float,
    stage: str,
    now: datetime,
) -> bool:
    """Record progress (also a heartbeat). False: the job is no longer ours (cancelled or
    re-queued) and the worker must stop."""
    pct = max(0.0, min(100.0, round(percent, 1)))
    res = db.execute(
        _fenced(job_id, worker_id)
        .values(percent=pct, stage=stage[:64], heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    db.add(JobEvent(job_id=job_id, status="running", stage=stage[:64], percent=pct, at=now))
    db.commit()
    return True


def heartbeat(db: Session, job_id: uuid.UUID, worker_id: str, now: datetime) -> bool:
    res = db.execute(
        _fenced(job_id, worker_id)
        .values(heartbeat_at=now)
        .execution_options(synchronize_session=False)
    )
    db.commit()
    return bool(res.rowcount == 1)  # type: ignore[attr-defined]


def succeed(
    db: Session, job_id: uuid.UUID, worker_id: str, result_sha256: str | None, now: datetime
) -> bool:
    """Mark done exactly once; False if the job was cancelled or re-queued meanwhile."""
    res = db.execute(
        _fenced(job_id, worker_id)
        .values(
            status="succeeded",
            stage="done",
            percent=100.0,
            result_sha256=result_sha256,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    db.add(JobEvent(job_id=job_id, status="succeeded", stage="done", percent=100.0, at=now))
    return True  # the caller commits, together with whatever the result registers


def fail(
    db: Session, job_id: uuid.UUID, worker_id: str, code: str, message: str, now: datetime
) -> bool:
    res = db.execute(
        _fenced(job_id, worker_id)
        .values(
            status="failed",
            stage="failed",
            error_code=code[:64],
            error_message=message[:2000],
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()
        return False
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    _event(db, job, now, message)
    db.commit()
    return True


def cancel(db: Session, job: Job, now: datetime) -> Job:
    """Cancel a queued or running job (a running worker notices at its next progress call)."""
    if job.status in TERMINAL:
        raise Conflict(
            f"The job has already {job.status}.",
            code="job_finished",
            detail={"status": job.status},
        )
    res = db.execute(
        update(Job)
        .where(Job.id == job.id, Job.status.in_(ACTIVE))
        .values(status="cancelled", stage="cancelled", finished_at=now)
        .execution_options(synchronize_session=False)
    )
    db.refresh(job)
    if res.rowcount == 1:  # type: ignore[attr-defined]
        _event(db, job, now)
    db.commit()
    return job


def requeue_stale(db: Session, now: datetime, stale_after: timedelta) -> list[uuid.UUID]:
    """Jobs whose worker stopped heartbeating go back to the queue, or fail once they have used
    their attempts. Returns the ids re-queued."""
    cutoff = now - stale_after
    stale = list(db.scalars(select(Job).where(Job.status == "running", Job.heartbeat_at < cutoff)))
    requeued: list[uuid.UUID] = []
    for job in stale:
        if job.attempts >= job.max_attempts:
            values: dict[str, Any] = {
                "status": "failed",
                "stage": "failed",
                "error_code": "worker_lost",
                "error_message": f"The worker stopped responding {job.attempts} times.",
                "finished_at": now,
            }
        else:
            values = {
                "status": "queued",
                "stage": "requeued",
                "worker_id": None,
                "dispatched_at": None,
            }
        res = db.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == "running", Job.worker_id == job.worker_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if res.rowcount == 1:  # type: ignore[attr-defined]
            db.refresh(job)
            _event(db, job, now, values.get("error_message"))
            if job.status == "queued":
                requeued.append(job.id)
    db.commit()
    return requeued


def mark_dispatched(db: Session, job_id: uuid.UUID, now: datetime) -> None:
    db.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(dispatched_at=now)
        .execution_options(synchronize_session=False)
    )
    db.commit()


def undispatched(db: Session, now: datetime, resend_after: timedelta) -> list[uuid.UUID]:
    """Queued jobs the broker may not hold: never handed over (the broker was down), or handed
    over long enough ago that the message may be lost. Sending one twice is harmless: only one
    worker can claim it."""
    cutoff = now - resend_after
    return list(
        db.scalars(
            select(Job.id).where(
                Job.status == "queued",
                (Job.dispatched_at.is_(None) & (Job.created_at < now - timedelta(seconds=2)))
                | (Job.dispatched_at < cutoff),
            )
        )
    )


def events_after(db: Session, job_id: uuid.UUID, after: int) -> list[JobEvent]:
    return list(
        db.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id, JobEvent.id > after)
            .order_by(JobEvent.id)
        )
    )
