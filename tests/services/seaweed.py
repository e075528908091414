"""Pytest plugin: a SeaweedFS ``weed mini`` S3 server for the session, and object stores on
both backends.

Register it once from the root conftest: ``pytest_plugins = ["tests.services.seaweed"]``.

Fixtures:
- ``s3_server`` (session): a running ``storage.seaweed_server.SeaweedServer`` with ``endpoint``
  (``127.0.0.1:port``), ``url``, ``access_key``, ``secret_key`` and ``client()``. Started on
  first use only, so runs that never touch S3 never start weed.
- ``s3_bucket``: a fresh, empty bucket name on ``s3_server``, removed with its contents after.
- ``object_store``: parametrized ``local`` / ``s3``; a fresh ``ObjectStore`` per test.

Helpers for assertions: ``object_keys(store)`` and ``staging_keys(store)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storage import LocalObjectStore, ObjectStore, S3ObjectStore
from storage.seaweed_server import SeaweedServer

TEST_URL_SECRET = b"timbre-test-url-secret-0123456789"
TEST_BASE_URL = "http://testserver"
# minio's smallest part (5 MiB): tests exercise multipart uploads with little data.
TEST_PART_SIZE = 5 << 20


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    server = SeaweedServer.start(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: SeaweedServer) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:24]}"
    client = s3_server.client()
    client.make_bucket(name)
    yield name
    # weed mini runs with -s3.allowDeleteBucketNotEmpty (its default): removal takes the contents.
    client.remove_bucket(name)


@pytest.fixture(params=["local", "s3"])
def object_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(
            tmp_path_factory.mktemp("objects"), url_secret=TEST_URL_SECRET, base_url=TEST_BASE_URL
        )
    server: SeaweedServer = request.getfixturevalue("s3_server")
    return S3ObjectStore(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        bucket=request.getfixturevalue("s3_bucket"),
        part_size=TEST_PART_SIZE,
    )


def object_keys(store: ObjectStore) -> list[str]:
    """Every visible object's sha256."""
    if isinstance(store, LocalObjectStore):
        return sorted(p.name for p in (store.root / "sha256").rglob("*") if p.is_file())
    if isinstance(store, S3ObjectStore):
        listed = store.client.list_objects(store.bucket, prefix="sha256/", recursive=True)
        return sorted((o.object_name or "").removeprefix("sha256/") for o in listed)
    raise TypeError(f"unknown store {store!r}")


def staging_keys(store: ObjectStore) -> list[str]:
    """Leftovers of writes: staging files/objects and (S3) unfinished multipart uploads."""
    if isinstance(store, LocalObjectStore):
        staging = store.root / ".staging"
        return sorted(p.name for p in staging.iterdir()) if staging.exists() else []
    if isinstance(store, S3ObjectStore):
        listed = store.client.list_objects(store.bucket, prefix="staging/", recursive=True)
        uploads = store.client._list_multipart_uploads(store.bucket).uploads
        return sorted(
            [o.object_name or "" for o in listed] + [f"upload:{u.object_name}" for u in uploads]
        )
    raise TypeError(f"unknown store {store!r}")
