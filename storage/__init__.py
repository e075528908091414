"""Object storage: content-addressed (sha256), streamed, verified before visible.

One protocol (``ObjectStore``), two backends chosen once at start-up: ``LocalObjectStore`` (a
directory; the embedded default) and ``S3ObjectStore`` (MinIO or any S3 via the minio client).
"""

from storage.base import CHUNK_SIZE, ObjectStore, StoredObject
from storage.content_disposition import content_disposition
from storage.errors import (
    IntegrityError,
    ObjectNotFound,
    ObjectTooLarge,
    StorageError,
    StorageUnavailable,
)
from storage.keys import check_sha256
from storage.local import LocalObjectStore
from storage.s3 import S3ObjectStore

__all__ = [
    "CHUNK_SIZE",
    "IntegrityError",
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "ObjectTooLarge",
    "S3ObjectStore",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "check_sha256",
    "content_disposition",
]
