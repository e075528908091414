"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from studio.chain_relay import relay_pending
from studio.demo import start_seeding
from studio.error_handlers import install_error_handlers
from studio.jobs.embedded import EmbeddedWorkers
from studio.limits import LimitsMiddleware, make_counter
from studio.middleware import RequestContextMiddleware
from studio.routes import (
    access,
    auth,
    channels,
    config,
    docs,
    epochs,
    health,
    jobs,
    me,
    objects,
    payouts,
    platforms,
    tracks,
    uploads,
    voices,
    web,
)
from studio.schemas import ErrorBody
from studio.services import Services, build_services, prepare_store, require_backends
from studio.settings import Settings, get_settings
from studio.upload_intake import sweep_scratch

log = logging.getLogger("studio")

_ERRORS = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "Bad request",
        401: "Not signed in, or the session/key is invalid",
        403: "Signed in without the needed role",
        404: "Unknown id",
        409: "Conflicts with the current state",
        413: "Body or file too large",
        415: "Unsupported media type",
        422: "Invalid input",
        429: "Rate limit or quota reached",
        503: "A backend is unavailable",
    }.items()
}


CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-API-Key",
    "Idempotency-Key",
    "Last-Event-ID",
    "X-Request-ID",
]


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. Start-up checks every backend and refuses to serve if one is down,
    naming the setting to fix."""
    settings = settings or (services.settings if services else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or build_services(settings)
        prepare_store(svc.store)
        require_backends(svc)
        relay_pending(svc)  # terms recorded by a process that died before relaying them
        removed = sweep_scratch(settings.tmp_dir)
        if removed:
            log.info("removed stale upload scratch files", extra={"count": removed})
        app.state.services = svc
        workers = None
        if settings.job_broker == "embedded" and settings.embedded_workers > 0:
            workers = EmbeddedWorkers(svc, settings.embedded_workers)
            svc.dispatch = lambda _job_id: workers.wake()
            workers.start()
        elif settings.job_broker == "celery":
            from studio.jobs.celery_app import dispatch_to_celery

            svc.dispatch = dispatch_to_celery(settings)
        if settings.demo_seed:
            start_seeding(svc)
        try:
            yield
        finally:
            if workers is not None:
                workers.stop()
            if services is None:
                svc.close()

    app = FastAPI(
        title="Timbre",
        version="0.1.0",
        summary="Creator-controlled voice models, derivative tracks and per-play royalties.",
        lifespan=lifespan,
        responses=_ERRORS,  # type: ignore[arg-type]
        # Served by studio/routes/docs.py from local files (FastAPI's own pages use a CDN).
        docs_url=None,
        redoc_url=None,
    )
    # Added last = runs first: the request id covers the limit responses too.
    app.add_middleware(LimitsMiddleware, settings=settings, counter=make_counter(settings))
    if settings.cors_origin_list:
        # Outside the limits, so a listed site can read its 429s; never credentials (cookies):
        # callers authenticate with the Authorization and X-API-Key headers.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_credentials=False,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=["X-Request-ID", "Retry-After"],
            max_age=600,
        )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    for module in (
        health,
        docs,
        config,
        auth,
        me,
        platforms,
        uploads,
        objects,
        voices,
        jobs,
        tracks,
        channels,
        access,
        payouts,
        epochs,
        web,
    ):
        app.include_router(module.router)
    return app
