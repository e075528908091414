"""Every failure leaves the API as ``{"error": {"code", "message", "detail"}}``."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage import ObjectNotFound, StorageUnavailable
from studio.errors import TimbreError
from voice_model.errors import AudioError

log = logging.getLogger("studio.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "unprocessable",
    429: "rate_limited",
}


def error_response(
    status: int, code: str, message: str, detail: dict[str, Any] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "detail": detail or {}}}, status_code=status
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TimbreError)
    async def _timbre(_: Request, exc: TimbreError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("service error", extra={"code": exc.code})
        return error_response(exc.status_code, exc.code, exc.message, exc.detail)

    @app.exception_handler(AudioError)
    async def _audio(_: Request, exc: AudioError) -> JSONResponse:
        return error_response(422, exc.code, exc.message, _jsonable(exc.detail))

    @app.exception_handler(ObjectNotFound)
    async def _missing(_: Request, exc: ObjectNotFound) -> JSONResponse:
        return error_response(404, "object_not_found", "No such object.")

    @app.exception_handler(StorageUnavailable)
    async def _storage_down(_: Request, exc: StorageUnavailable) -> JSONResponse:
        log.error("object store unavailable", extra={"problem": str(exc)})
        return error_response(503, "storage_unavailable", "File storage is unavailable; retry.")

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # A lost connection is the database being unavailable (503, retry); any other driver
        # error is our bug (500).
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            log.error("database unavailable", extra={"error": type(exc.orig).__name__})
            return error_response(
                503,
                "database_unavailable",
                "The database (TIMBRE_DATABASE_URL) is unavailable; retry shortly.",
            )
        log.exception("database error")
        return error_response(500, "internal_error", "Something went wrong on our side.")

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e["type"]}
            for e in exc.errors()
        ]
        return error_response(
            422, "validation_error", "The request is not valid.", {"errors": errors}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        response = error_response(exc.status_code, code, str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")


def _jsonable(detail: dict[str, Any]) -> dict[str, Any]:
    """Detail values as JSON can carry them (-inf dBFS of digital silence becomes "-inf")."""
    out: dict[str, Any] = {}
    for key, value in detail.items():
        if isinstance(value, float) and not math.isfinite(value):
            out[key] = str(value)
        elif isinstance(value, str | int | float | bool | None):
            out[key] = value
        else:
            out[key] = str(value)
    return out
