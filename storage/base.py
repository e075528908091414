"""What every object store offers: content-addressed, streamed, verified before visible."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK_SIZE = 1 << 20
"""Bytes read or written per step (1 MiB): large enough for throughput, small enough that no
object is ever held whole in memory."""

DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class StoredObject:
    """An object as stored: ``sha256`` (lowercase hex) is also its key; ``size`` is in bytes."""

    sha256: str
    size: int


def put_path(
    store: ObjectStore,
    path: Path,
    *,
    expected_sha256: str | None,
    content_type: str,
) -> StoredObject:
    """``put_file`` for every backend: stream the file through the backend's ``put``."""
    with open(path, "rb") as stream:
        return store.put(stream, expected_sha256=expected_sha256, content_type=content_type)


class ObjectStore(Protocol):
    """A content-addressed object store. Implementations: ``LocalObjectStore``, ``S3ObjectStore``.

    Every method taking a ``sha256`` raises ValueError unless it is 64 lowercase hex characters.
    """

    def put(
        self,
        stream: BinaryIO,
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> StoredObject:
        """Store ``stream`` (read to EOF in fixed-size chunks) under its sha256.

        The bytes are hashed while they are written to a staging location; the object becomes
        visible under its key only after the hash is known (and equals ``expected_sha256`` when
        given, else ``IntegrityError``). More than ``max_bytes`` -> ``ObjectTooLarge``. On any
        failure, including an exception from ``stream``, nothing is visible and the staging copy
        is removed. Storing the same content twice yields the same key and one object.
        """
        ...

    def put_file(
        self,
        path: Path,
        *,
        expected_sha256: str | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> StoredObject:
        """``put`` the contents of the file at ``path``."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def stat(self, sha256: str) -> StoredObject:
        """The stored object's size; ``ObjectNotFound`` if absent."""
        ...

    def iter_bytes(
        self, sha256: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Stream bytes ``[start, end)`` (``end=None``: to the end) in chunks of <= ``chunk_size``.

        Existence and the range are checked when called, not on first iteration:
        ``ObjectNotFound`` if absent, ValueError unless ``0 <= start <= end <= size``.
        """
        ...

    def download(self, sha256: str, dest: Path) -> None:
        """Stream the object into ``dest`` (replaced atomically), verifying its hash on the way;
        ``IntegrityError`` (and ``dest`` untouched) if the stored bytes do not match their key."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the object; deleting an absent object is not an error."""
        ...

    def signed_url(self, sha256: str, *, expires: timedelta, filename: str | None = None) -> str:
        """A URL that serves the object without other credentials until ``expires`` from now;
        ``filename`` asks the server to offer it as a download under that name."""
        ...

    def check(self) -> None:
        """Readiness probe: returns if the store can serve, else ``StorageUnavailable`` (why)."""
        ...
