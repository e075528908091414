"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from studio.deps import ServicesDep
from studio.schemas import BackendOut, ReadyOut
from studio.services import check_backends

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no backend is touched)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def readyz(services: ServicesDep) -> JSONResponse:
    """Every configured backend answers; 503 lists the ones that do not."""
    statuses = await run_in_threadpool(check_backends, services)
    body = ReadyOut(
        status="ready" if all(s.ok for s in statuses) else "unavailable",
        backends=[BackendOut(name=s.name, ok=s.ok, problem=s.problem) for s in statuses],
    )
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ready" else 503)
