"""The studio's error hierarchy. Every failure a client sees is one of these, rendered once (in
``studio.error_handlers``) as ``{"error": {"code", "message", "detail"}}`` with its status."""

from __future__ import annotations

from typing import Any


class TimbreError(Exception):
    """Base of every error the API reports on purpose."""

    status_code = 500
    code = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.detail: dict[str, Any] = detail or {}


class BadRequest(TimbreError, ValueError):
    status_code = 400
    code = "bad_request"


class Unauthorized(TimbreError):
    status_code = 401
    code = "unauthorized"


class Forbidden(TimbreError, PermissionError):
    status_code = 403
    code = "forbidden"


class NotFound(TimbreError, LookupError):
    status_code = 404
    code = "not_found"


class Conflict(TimbreError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(TimbreError, ValueError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(TimbreError, ValueError):
    status_code = 415
    code = "unsupported_media_type"


class Unprocessable(TimbreError, ValueError):
    status_code = 422
    code = "unprocessable"


class ServiceUnavailable(TimbreError, ConnectionError):
    status_code = 503
    code = "service_unavailable"


class ConfigurationError(TimbreError):
    """A backend is misconfigured or unreachable at start-up; names the setting to fix."""

    code = "configuration_error"

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}", detail={"setting": setting})
        self.setting = setting
