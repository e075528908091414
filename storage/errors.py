"""The storage package's one exception hierarchy.

Each subclass also inherits the builtin a caller would naturally catch (``KeyError`` for a missing
object, ``ValueError`` for bad content, ``ConnectionError`` for an unreachable backend), so code
that knows nothing of Timbre still handles them sensibly. ``code`` and ``detail`` let the API
render them in its one error body without parsing messages.
"""

from __future__ import annotations

from typing import Any


class StorageError(Exception):
    """Base of every error raised on purpose by ``storage``."""

    code = "storage_error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail: dict[str, Any] = detail

    def __str__(self) -> str:
        # KeyError.__str__ would show the repr of the message; keep every subclass readable.
        return self.message


class ObjectNotFound(StorageError, KeyError):
    """No object is stored under this sha256."""

    code = "object_not_found"

    def __init__(self, sha256: str) -> None:
        super().__init__(f"no object stored under sha256 {sha256}", sha256=sha256)
        self.sha256 = sha256


class IntegrityError(StorageError, ValueError):
    """The bytes hash to something other than what was expected."""

    code = "integrity_error"

    def __init__(self, *, expected: str, actual: str) -> None:
        super().__init__(
            f"content hash mismatch: expected sha256 {expected}, got {actual}",
            expected=expected,
            actual=actual,
        )
        self.expected = expected
        self.actual = actual


class ObjectTooLarge(StorageError, ValueError):
    """The stream carried more than ``max_bytes``; nothing was stored."""

    code = "object_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"object exceeds the limit of {max_bytes} bytes", max_bytes=max_bytes)
        self.max_bytes = max_bytes


class StorageUnavailable(StorageError, ConnectionError):
    """The backend cannot be reached or refuses to serve (down, missing bucket, bad credentials)."""

    code = "storage_unavailable"
