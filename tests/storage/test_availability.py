"""``check()``, the readiness probe: StorageUnavailable, saying why, if the store cannot serve."""

from __future__ import annotations

import io
import socket
import time
from datetime import timedelta
from pathlib import Path

import pytest

from storage import LocalObjectStore, S3ObjectStore, StorageUnavailable
from storage.seaweed_server import SeaweedServer
from tests.services.seaweed import TEST_BASE_URL, TEST_URL_SECRET


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def s3_store(server: SeaweedServer, bucket: str, **overrides: str) -> S3ObjectStore:
    settings = {
        "endpoint": server.endpoint,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "bucket": bucket,
    } | overrides
    return S3ObjectStore(**settings)


def test_s3_closed_port_is_unavailable_quickly(s3_server: SeaweedServer) -> None:
    store = s3_store(s3_server, "timbre", endpoint=f"127.0.0.1:{closed_port()}")
    started = time.monotonic()
    with pytest.raises(StorageUnavailable, match=r"unreachable") as raised:
        store.check()
    assert isinstance(raised.value, ConnectionError)
    assert store.endpoint in str(raised.value)
    assert time.monotonic() - started < 10
    with pytest.raises(StorageUnavailable):  # every operation, not only the probe
        store.put(io.BytesIO(b"x"))


def test_s3_missing_bucket_is_unavailable(s3_server: SeaweedServer) -> None:
    with pytest.raises(StorageUnavailable, match="bucket 'no-such-bucket' does not exist"):
        s3_store(s3_server, "no-such-bucket").check()


def test_s3_wrong_secret_is_unavailable(s3_server: SeaweedServer, s3_bucket: str) -> None:
    with pytest.raises(StorageUnavailable, match=r"SignatureDoesNotMatch|AccessDenied"):
        s3_store(s3_server, s3_bucket, secret_key="not-the-secret").check()


def test_s3_ensure_bucket_creates_once(s3_server: SeaweedServer) -> None:
    store = s3_store(s3_server, "created-by-ensure")
    store.ensure_bucket()
    store.ensure_bucket()
    store.check()
    s3_server.client().remove_bucket("created-by-ensure")


def test_local_root_that_is_a_file_is_unavailable(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    root.write_bytes(b"not a directory")
    store = LocalObjectStore(root, url_secret=TEST_URL_SECRET, base_url=TEST_BASE_URL)
    with pytest.raises(StorageUnavailable, match=f"local object store at {root}"):
        store.check()


def test_s3_endpoint_forms() -> None:
    url_form = S3ObjectStore(
        endpoint="https://s3.example:9000", access_key="a", secret_key="b", bucket="timbre"
    )
    assert url_form.endpoint == "s3.example:9000"
    with pytest.raises(ValueError, match="endpoint"):
        S3ObjectStore(endpoint="ftp://x:1", access_key="a", secret_key="b", bucket="timbre")
    with pytest.raises(ValueError, match="bucket"):
        S3ObjectStore(endpoint="x:1", access_key="a", secret_key="b", bucket="No_Such")


def test_s3_sweep_removes_only_stale_staging(s3_server: SeaweedServer, s3_bucket: str) -> None:
    store = s3_store(s3_server, s3_bucket)
    store.client.put_object(s3_bucket, "staging/left-by-a-crash", io.BytesIO(b"x"), 1)
    kept = store.put(io.BytesIO(b"a real object"))
    assert store.sweep_staging() == 0  # younger than an hour: may be a put in progress
    assert store.sweep_staging(older_than=timedelta(0)) == 1
    assert [o.object_name for o in store.client.list_objects(s3_bucket, recursive=True)] == [
        f"sha256/{kept.sha256}"
    ]


def test_seaweed_server_stops_for_good(tmp_path: Path) -> None:
    with SeaweedServer.start(tmp_path) as server:
        assert server.client().list_buckets() == []
    assert server.process.poll() is not None
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", server.ports["s3"])) != 0
    server.stop()  # idempotent
