"""Objects in a local directory: the embedded default (``var/objects``).

Layout: ``root/sha256/ab/cd/<hex>`` for objects, ``root/.staging/`` for writes in progress. Both
are on one filesystem, so publishing is an fsync followed by an atomic ``os.replace``: after a
crash an object is either absent or complete. Stale staging files (a crash mid-write) are removed
by ``sweep_staging``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlencode

from storage.base import CHUNK_SIZE, DEFAULT_CONTENT_TYPE, StoredObject, put_path
from storage.content_disposition import check_filename
from storage.errors import IntegrityError, ObjectNotFound, StorageError, StorageUnavailable
from storage.hashing_reader import HashingReader
from storage.keys import check_range, check_sha256
from storage.verified_download import write_verified

_STAGING = ".staging"
_OBJECTS = "sha256"
# Domain-separates these signatures from anything else signed with the same secret.
_URL_SIGNATURE_CONTEXT = "timbre.storage.signed-url.v1"


class LocalObjectStore:
    """Content-addressed objects under ``root``; signed URLs point at the studio's
    ``{base_url}/v1/objects/{sha256}`` route, which checks them with ``verify_signed_url``."""

    def __init__(
        self,
        root: Path,
        *,
        url_secret: bytes,
        base_url: str,
        chunk_size: int = CHUNK_SIZE,
    ) -> None:
        if len(url_secret) < 16:
            raise ValueError("url_secret must be at least 16 bytes")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        self.root = Path(root)
        self._staging = self.root / _STAGING
        self._url_secret = url_secret
        self._base_url = base_url.rstrip("/")
        self._chunk_size = chunk_size

    # --- writing --------------------------------------------------------------------------

    def put(
        self,
        stream: BinaryIO,
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> StoredObject:
        """See ``ObjectStore.put``. ``content_type`` is not kept: a local object is bytes only."""
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        reader = HashingReader(stream, max_bytes=max_bytes, chunk_size=self._chunk_size)
        self._staging.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(dir=self._staging, prefix="put-", suffix=".part")
        try:
            with open(fd, "wb") as out:
                while chunk := reader.read(self._chunk_size):
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = reader.hexdigest()
            if expected_sha256 is not None and digest != expected_sha256:
                raise IntegrityError(expected=expected_sha256, actual=digest)
            final = self._path(digest)
            final.parent.mkdir(parents=True, exist_ok=True)
            # Replacing an existing copy is harmless (same bytes) and, unlike skipping, leaves the
            # object present even if a concurrent delete of the same content ran in between.
            os.replace(staged, final)
            _fsync_dir(final.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged)
            raise
        return StoredObject(sha256=digest, size=reader.bytes_read)

    def put_file(
        self,
        path: Path,
        *,
        expected_sha256: str | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> StoredObject:
        return put_path(self, path, expected_sha256=expected_sha256, content_type=content_type)

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(check_sha256(sha256)))

    def sweep_staging(self, *, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove staging files last written more than ``older_than`` ago (left by a crash);
        return how many. Younger files may belong to a write in progress and are kept."""
        cutoff = time.time() - older_than.total_seconds()
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self._staging) as entries:
            for entry in entries:
                with contextlib.suppress(FileNotFoundError):
                    if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    # --- reading --------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        return self._path(check_sha256(sha256)).is_file()

    def stat(self, sha256: str) -> StoredObject:
        try:
            size = self._path(check_sha256(sha256)).stat().st_size
        except FileNotFoundError:
            raise ObjectNotFound(sha256) from None
        return StoredObject(sha256=sha256, size=size)

    def iter_bytes(
        self, sha256: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        stop = check_range(start, end, self.stat(sha256).size)
        return self._read_range(self._path(sha256), sha256, start, stop, chunk_size)

    def download(self, sha256: str, dest: Path) -> None:
        write_verified(self.iter_bytes(sha256), sha256, dest)

    # --- signed URLs ----------------------------------------------------------------------

    def signed_url(self, sha256: str, *, expires: timedelta, filename: str | None = None) -> str:
        """``{base_url}/v1/objects/{sha256}?expires=<unix s>&sig=<hex>[&filename=...]``.

        The HMAC-SHA256 covers the sha256, the expiry and the filename; the object need not
        exist yet (the route answers 404 if it does not).
        """
        check_sha256(sha256)
        if expires <= timedelta(0):
            raise ValueError(f"expires must be positive, got {expires}")
        if filename is not None:
            check_filename(filename)
        expires_at = int(time.time() + expires.total_seconds())
        query: dict[str, str | int] = {
            "expires": expires_at,
            "sig": self._url_signature(sha256, expires_at, filename),
        }
        if filename is not None:
            query["filename"] = filename
        return f"{self._base_url}/v1/objects/{sha256}?{urlencode(query)}"

    def verify_signed_url(
        self,
        sha256: str,
        expires: int,
        sig: str,
        filename: str | None,
        *,
        now: float | None = None,
    ) -> bool:
        """True iff ``sig`` was made by ``signed_url`` for exactly these values and ``expires``
        (unix seconds) has not passed. Untrusted input never raises: a malformed sha256 or
        signature is simply not valid."""
        try:
            check_sha256(sha256)
        except ValueError:
            return False
        if (time.time() if now is None else now) > expires:
            return False
        expected = self._url_signature(sha256, expires, filename)
        return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))

    def _url_signature(self, sha256: str, expires: int, filename: str | None) -> str:
        # JSON keeps the fields unambiguous (no separator can be smuggled in through filename).
        message = json.dumps([_URL_SIGNATURE_CONTEXT, sha256, expires, filename])
        return hmac.new(self._url_secret, message.encode(), hashlib.sha256).hexdigest()

    # --- health ---------------------------------------------------------------------------

    def check(self) -> None:
        """The root must be a writable directory on which an atomic rename works."""
        probe = self._staging / f"check-{uuid.uuid4().hex}"
        try:
            self._staging.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageUnavailable(
                f"local object store at {self.root} is not writable: {exc}", root=str(self.root)
            ) from exc

    # --- internals ------------------------------------------------------------------------

    def _path(self, sha256: str) -> Path:
        # Callers pass only checked sha256 values: the name cannot escape the root.
        return self.root / _OBJECTS / sha256[:2] / sha256[2:4] / sha256

    @staticmethod
    def _read_range(
        path: Path, sha256: str, start: int, stop: int, chunk_size: int
    ) -> Iterator[bytes]:
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            raise ObjectNotFound(sha256) from None  # deleted since stat
        with handle:
            handle.seek(start)
            remaining = stop - start
            while remaining:
                chunk = handle.read(min(chunk_size, remaining))
                if not chunk:
                    raise StorageError(f"object {sha256} ended before byte {stop}", sha256=sha256)
                remaining -= len(chunk)
                yield chunk


def _fsync_dir(path: Path) -> None:
    """Persist a rename: the directory entry must reach the disk, not only the file's data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
