"""Training and conversion jobs: create (idempotent), follow (poll or Server-Sent Events),
cancel, download the result."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from studio.db.models import Account, Job, Upload, VoiceModel
from studio.deps import CurrentAccount, DbDep, ServicesDep
from studio.errors import Conflict, Forbidden, NotFound
from studio.jobs import store as jobs
from studio.schemas import ConvertJobIn, JobError, JobOut, JobResultOut, TrainJobIn
from studio.services import Services
from studio.voices import licensing_gate

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = logging.getLogger("studio.jobs")
SSE_POLL_S = 0.25
SSE_KEEPALIVE_S = 15.0


def job_out(job: Job) -> JobOut:
    error = (
        JobError(code=job.error_code, message=job.error_message or "") if job.error_code else None
    )
    return JobOut(
        id=job.id,
        kind=job.kind,
        status=job.status,
        stage=job.stage,
        percent=job.percent,
        voice_model_id=job.voice_model_id,
        result_sha256=job.result_sha256,
        error=error,
        attempts=job.attempts,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def owned_job(db: Session, job_id: uuid.UUID, account: Account) -> Job:
    job = db.get(Job, job_id)
    if job is None or job.owner_id != account.id:
        raise NotFound("No such job.", code="job_not_found")
    return job


def _own_upload(db: Session, upload_id: uuid.UUID, account: Account) -> Upload:
    upload = db.get(Upload, upload_id)
    if upload is None or upload.owner_id != account.id:
        raise NotFound(
            "No such upload.", code="upload_not_found", detail={"upload_id": str(upload_id)}
        )
    return upload


def _limits(services: Services) -> jobs.Limits:
    s = services.settings
    return jobs.Limits(s.max_active_jobs_per_account, s.max_jobs_per_day, s.job_max_attempts)


def _require(account: Account, role: str) -> None:
    if role not in account.role_names:
        raise Forbidden(f"This needs the {role} role.", code="role_required")


def _plan(
    db: Session, body: TrainJobIn | ConvertJobIn, account: Account
) -> tuple[dict[str, Any], list[tuple[uuid.UUID, str]], VoiceModel | None]:
    """Validate a request against the caller's rights; returns (params, inputs, voice)."""
    if isinstance(body, TrainJobIn):
        _require(account, "creator")
        ids = list(dict.fromkeys(body.upload_ids))
        for upload_id in ids:
            _own_upload(db, upload_id, account)
        params = body.model_dump(mode="json", exclude={"kind", "upload_ids"})
        params["upload_ids"] = [str(i) for i in ids]
        return params, [(i, "reference") for i in ids], None
    _require(account, "fan")
    _own_upload(db, body.upload_id, account)
    inputs = [(body.upload_id, "input")]
    if body.accompaniment_upload_id is not None:
        _own_upload(db, body.accompaniment_upload_id, account)
        inputs.append((body.accompaniment_upload_id, "accompaniment"))
    voice = licensing_gate(db, db.get(VoiceModel, body.voice_model_id), account)
    return body.model_dump(mode="json", exclude={"kind"}), inputs, voice


@router.post("", response_model=JobOut, status_code=201)
def create_job(
    body: Annotated[TrainJobIn | ConvertJobIn, Body(discriminator="kind")],
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
) -> JobOut:
    """Queue a training job (creator, own uploads) or a conversion job (fan, own upload, a
    licensed voice). With an ``Idempotency-Key`` the same request returns the same job."""
    params, inputs, voice = _plan(db, body, account)
    if idempotency_key:
        existing = jobs.find_idempotent(db, account.id, idempotency_key)
        if existing is not None:
            if not jobs.same_request(existing, body.kind, params):
                raise Conflict(
                    "This Idempotency-Key was used for a different request.",
                    code="idempotency_conflict",
                )
            response.status_code = 200
            return job_out(existing)
    now = services.clock()
    if isinstance(body, TrainJobIn):
        voice = VoiceModel(
            creator_id=account.id,
            name=body.name,
            description=body.description,
            status="training",
            created_at=now,
        )
        db.add(voice)
        db.flush()
    job = jobs.create_job(
        db,
        owner_id=account.id,
        kind=body.kind,
        params=params,
        inputs=inputs,
        voice_model_id=voice.id if voice else None,
        idempotency_key=idempotency_key,
        now=now,
        limits=_limits(services),
    )
    db.commit()
    try:
        services.dispatch(job.id)
    except Exception:  # noqa: BLE001 - the job is safe in the DB; the reaper sends it again
        log.warning("job dispatch failed; it stays queued", extra={"job_id": str(job.id)})
    else:
        jobs.mark_dispatched(db, job.id, services.clock())
    return job_out(job)


@router.get("", response_model=list[JobOut])
def list_jobs(account: CurrentAccount, db: DbDep) -> list[JobOut]:
    rows = db.scalars(
        select(Job).where(Job.owner_id == account.id).order_by(Job.created_at.desc()).limit(100)
    )
    return [job_out(j) for j in rows]


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: uuid.UUID, account: CurrentAccount, db: DbDep) -> JobOut:
    return job_out(owned_job(db, job_id, account))


@router.post("/{job_id}/cancel", response_model=JobOut)
def cancel_job(
    job_id: uuid.UUID, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> JobOut:
    """Cancel a queued or running job; a finished job answers 409."""
    job = jobs.cancel(db, owned_job(db, job_id, account), services.clock())
    return job_out(job)


@router.get("/{job_id}/result", response_model=JobResultOut)
def job_result(
    job_id: uuid.UUID, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> JobResultOut:
    """The finished job's output: a short-lived download URL (conversion) or the new voice
    model (training)."""
    job = owned_job(db, job_id, account)
    if job.status != "succeeded" or job.result_sha256 is None:
        raise Conflict(
            "The job has no result (yet).", code="job_not_finished", detail={"status": job.status}
        )
    url, expires = None, None
    if job.kind == "convert":
        ttl = timedelta(seconds=services.settings.signed_url_ttl_s)
        url = services.store.signed_url(
            job.result_sha256, expires=ttl, filename=f"converted-{job.id}.wav"
        )
        expires = services.clock() + ttl
    return JobResultOut(
        job_id=job.id,
        kind=job.kind,
        sha256=job.result_sha256,
        url=url,
        expires_at=expires,
        voice_model_id=job.voice_model_id,
    )


def _poll(services: Services, job_id: uuid.UUID, after: int) -> tuple[list[dict[str, Any]], str]:
    with services.db() as db:
        events = [
            {
                "id": e.id,
                "status": e.status,
                "stage": e.stage,
                "percent": e.percent,
                "message": e.message,
                "at": e.at.isoformat(),
            }
            for e in jobs.events_after(db, job_id, after)
        ]
        job = db.get(Job, job_id)
        return events, job.status if job else "failed"


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(
    job_id: uuid.UUID,
    request: Request,
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    """Progress as Server-Sent Events, in order (``id`` = event sequence; resumable with
    ``Last-Event-ID``); the stream ends after the job's final event."""
    await run_in_threadpool(owned_job, db, job_id, account)
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0

    async def stream() -> AsyncIterator[str]:
        last, quiet = start, 0.0
        while not await request.is_disconnected():
            events, status = await run_in_threadpool(_poll, services, job_id, last)
            for event in events:
                last = event["id"]
                yield f"id: {last}\nevent: progress\ndata: {json.dumps(event)}\n\n"
            if not events and status in jobs.TERMINAL:
                return
            if events and events[-1]["status"] in jobs.TERMINAL:
                return
            quiet = 0.0 if events else quiet + SSE_POLL_S
            if quiet >= SSE_KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(SSE_POLL_S)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
