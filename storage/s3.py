"""Objects in an S3 bucket through the ``minio`` client (MinIO in production, SeaweedFS in tests).

A put streams the upload to ``staging/<uuid>`` (multipart, one part in memory at a time) while
hashing it, then server-side copies it to ``sha256/<hex>`` and deletes the staging object. The
final key therefore only ever holds verified, complete bytes. SeaweedFS 4.48 supports the copy
(``CopyObject``, and ``UploadPartCopy`` used by minio above 5 GiB).
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import certifi
import urllib3
from minio import Minio
from minio.commonconfig import REPLACE, CopySource
from minio.error import InvalidResponseError, S3Error, ServerError
from minio.helpers import DictType, check_bucket_name

from storage.base import CHUNK_SIZE, DEFAULT_CONTENT_TYPE, StoredObject, put_path
from storage.content_disposition import content_disposition
from storage.errors import (
    IntegrityError,
    ObjectNotFound,
    StorageError,
    StorageUnavailable,
)
from storage.hashing_reader import HashingReader
from storage.keys import check_range, check_sha256
from storage.verified_download import write_verified

log = logging.getLogger(__name__)

DEFAULT_PART_SIZE = 8 << 20
"""Multipart part size in bytes. minio's unknown-length upload keeps about three parts alive at
once (the previous part, the one being read, its trimmed copy), so this bounds an upload's memory
(~40 MiB at 8 MiB, measured by bench/storage.py); it also caps objects at 10,000 parts (78 GiB)."""

_STAGING = "staging/"
_OBJECTS = "sha256/"
_NOT_FOUND = frozenset({"NoSuchKey", "NoSuchObject", "ResourceNotFound"})
# Errors that make the whole store unusable (misconfiguration or an unhealthy server), as
# opposed to a problem with one request.
_UNAVAILABLE = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ServiceUnavailable",
        "SlowDown",
        "InternalError",
    }
)
_ALREADY_EXISTS = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


class S3ObjectStore:
    """Content-addressed objects in ``bucket`` at ``endpoint``.

    ``endpoint`` is ``host:port`` (``secure`` picks https) or a ``http(s)://host:port`` URL.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        secure: bool = False,
        region: str = "us-east-1",
        part_size: int = DEFAULT_PART_SIZE,
        timeout: float = 60.0,
    ) -> None:
        host, secure = _split_endpoint(endpoint, secure)
        check_bucket_name(bucket, strict=True)
        self.bucket = bucket
        self.endpoint = host
        self._part_size = part_size
        # Our own pool: minio's default waits minutes to connect and retries a dead endpoint
        # with backoff, which turns a readiness probe into a hang.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
            maxsize=10,
            cert_reqs="CERT_REQUIRED",
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            # A refused connection is retried once, not with backoff: it rarely heals in
            # seconds, and the caller (a readiness probe, an upload) should hear about it fast.
            retries=urllib3.Retry(
                total=3, connect=1, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
            ),
        )
        self.client = Minio(
            host,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http,
        )

    # --- writing --------------------------------------------------------------------------

    def put(
        self,
        stream: BinaryIO,
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> StoredObject:
        if expected_sha256 is not None:
            check_sha256(expected_sha256)
        reader = HashingReader(stream, max_bytes=max_bytes)
        staging = f"{_STAGING}{uuid.uuid4().hex}"
        try:
            with self._translated():
                # One part at a time: parallel parts would hold several in memory, and a failing
                # source would leave minio's worker threads behind.
                self.client.put_object(
                    self.bucket,
                    staging,
                    reader,  # type: ignore[arg-type]  # has read(); that is all minio uses
                    length=-1,
                    part_size=self._part_size,
                    num_parallel_uploads=1,
                    content_type=content_type,
                )
            digest = reader.hexdigest()
            if expected_sha256 is not None and digest != expected_sha256:
                raise IntegrityError(expected=expected_sha256, actual=digest)
            key = _key(digest)
            with self._translated():
                if not self._key_exists(key):  # dedup: the same bytes are already there
                    self.client.copy_object(
                        self.bucket,
                        key,
                        CopySource(self.bucket, staging),
                        metadata={"Content-Type": content_type},
                        metadata_directive=REPLACE,
                    )
        finally:
            self._remove_staging(staging)
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
        key = _key(check_sha256(sha256))
        with self._translated():
            self.client.remove_object(self.bucket, key)

    def ensure_bucket(self) -> None:
        """Create the bucket unless it exists (safe to race with another process doing so)."""
        with self._translated():
            if self.client.bucket_exists(self.bucket):
                return
            try:
                self.client.make_bucket(self.bucket)
            except S3Error as exc:
                if exc.code not in _ALREADY_EXISTS:
                    raise

    def sweep_staging(self, *, older_than: timedelta = timedelta(hours=1)) -> int:
        """Remove staging objects older than ``older_than`` (left by a crashed process); return
        how many. Incomplete multipart uploads from a crash are the bucket lifecycle's job
        (``AbortIncompleteMultipartUpload``)."""
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        with self._translated():
            for item in self.client.list_objects(self.bucket, prefix=_STAGING, recursive=True):
                if item.last_modified is not None and item.last_modified < cutoff:
                    self.client.remove_object(self.bucket, item.object_name or "")
                    removed += 1
        return removed

    # --- reading --------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        key = _key(check_sha256(sha256))
        with self._translated():
            return self._key_exists(key)

    def stat(self, sha256: str) -> StoredObject:
        key = _key(check_sha256(sha256))
        with self._translated(sha256):
            info = self.client.stat_object(self.bucket, key)
        return StoredObject(sha256=sha256, size=info.size or 0)

    def iter_bytes(
        self, sha256: str, *, start: int = 0, end: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        stop = check_range(start, end, self.stat(sha256).size)
        return self._read_range(sha256, start, stop, chunk_size)

    def download(self, sha256: str, dest: Path) -> None:
        write_verified(self.iter_bytes(sha256), sha256, dest)

    def signed_url(self, sha256: str, *, expires: timedelta, filename: str | None = None) -> str:
        """A presigned GET (at most 7 days, the S3 limit); ``filename`` sets the response's
        Content-Disposition. Computed locally: no request is made."""
        key = _key(check_sha256(sha256))
        if expires <= timedelta(0):
            raise ValueError(f"expires must be positive, got {expires}")
        headers: DictType | None = (
            None
            if filename is None
            else {"response-content-disposition": content_disposition(filename)}
        )
        return self.client.presigned_get_object(
            self.bucket, key, expires=expires, response_headers=headers
        )

    # --- health ---------------------------------------------------------------------------

    def check(self) -> None:
        """The endpoint must answer, accept our credentials and hold the bucket."""
        with self._translated():
            found = self.client.bucket_exists(self.bucket)
        if not found:
            raise StorageUnavailable(
                f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}",
                endpoint=self.endpoint,
                bucket=self.bucket,
            )

    # --- internals ------------------------------------------------------------------------

    def _key_exists(self, key: str) -> bool:
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND:
                return False
            raise
        return True

    def _read_range(self, sha256: str, start: int, stop: int, chunk_size: int) -> Iterator[bytes]:
        if start == stop:
            return  # minio would read a zero-length range as "to the end"
        with self._translated(sha256):
            response = self.client.get_object(
                self.bucket, _key(sha256), offset=start, length=stop - start
            )
        try:
            with self._translated(sha256):
                yield from response.stream(chunk_size)
        finally:
            response.close()
            response.release_conn()

    def _remove_staging(self, key: str) -> None:
        try:
            self.client.remove_object(self.bucket, key)
        except (S3Error, ServerError, InvalidResponseError, urllib3.exceptions.HTTPError):
            # Never mask the put's own outcome; the key is not an object's key, and
            # sweep_staging removes it later.
            log.warning("could not remove staging object %s/%s", self.bucket, key, exc_info=True)

    @contextlib.contextmanager
    def _translated(self, sha256: str | None = None) -> Iterator[None]:
        """Turn minio/urllib3 failures into this package's errors, naming the endpoint."""
        where = f"{self.endpoint}/{self.bucket}"
        try:
            yield
        except S3Error as exc:
            if sha256 is not None and exc.code in _NOT_FOUND:
                raise ObjectNotFound(sha256) from exc
            error = StorageUnavailable if exc.code in _UNAVAILABLE else StorageError
            raise error(f"S3 {where}: {exc.code}: {exc.message}", s3_code=exc.code) from exc
        except (ServerError, InvalidResponseError) as exc:
            raise StorageUnavailable(f"S3 {where} failed: {exc}") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise StorageUnavailable(f"S3 endpoint {self.endpoint} unreachable: {exc}") from exc


def _key(sha256: str) -> str:
    return f"{_OBJECTS}{sha256}"


def _split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """``host:port`` as is; a ``http(s)://host:port`` URL decides ``secure`` by its scheme."""
    if "://" not in endpoint:
        if not endpoint or "/" in endpoint:
            raise ValueError(f"bad S3 endpoint {endpoint!r}: expected host:port")
        return endpoint, secure
    url = urlsplit(endpoint)
    if url.scheme not in {"http", "https"} or not url.netloc or url.path not in {"", "/"}:
        raise ValueError(f"bad S3 endpoint {endpoint!r}: expected http(s)://host:port")
    return url.netloc, url.scheme == "https"
