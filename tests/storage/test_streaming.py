"""Uploads are streamed: memory stays flat with size, and a killed writer leaves nothing visible.

Both run the put in a fresh subprocess (``store_child``): peak RSS is per process, and a crash
has to be a real SIGKILL, not an exception the store could clean up after.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from storage import LocalObjectStore, ObjectStore, S3ObjectStore
from tests.services.seaweed import TEST_PART_SIZE, object_keys, staging_keys

REPO = Path(__file__).resolve().parents[2]
MIB = 1 << 20


def child_spec(store: ObjectStore, request: pytest.FixtureRequest) -> str:
    if isinstance(store, LocalObjectStore):
        return json.dumps({"kind": "local", "root": str(store.root)})
    assert isinstance(store, S3ObjectStore)
    server = request.getfixturevalue("s3_server")
    return json.dumps(
        {
            "kind": "s3",
            "endpoint": server.endpoint,
            "access_key": server.access_key,
            "secret_key": server.secret_key,
            "bucket": store.bucket,
            "part_size": TEST_PART_SIZE,
        }
    )


def child(spec: str, mode: str, size: int) -> list[str]:
    return [sys.executable, "-m", "tests.storage.store_child", spec, mode, str(size)]


def test_memory_stays_flat_for_a_200_mib_put(
    object_store: ObjectStore, request: pytest.FixtureRequest
) -> None:
    size = 200 * MIB
    done = subprocess.run(
        child(child_spec(object_store, request), "put-generated", size),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    figures = json.loads(done.stdout)
    assert figures["size"] == size
    assert object_store.stat(figures["sha256"]).size == size
    grown = figures["rss_peak"] - figures["rss_before"]
    # Holding the object would grow RSS by >= 200 MiB; a few chunks/parts is the budget.
    assert grown < 64 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB for a 200 MiB put"


def test_killed_writer_leaves_nothing_visible(
    object_store: ObjectStore, request: pytest.FixtureRequest
) -> None:
    with subprocess.Popen(
        child(child_spec(object_store, request), "put-hang", 2 * TEST_PART_SIZE + MIB),
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "ready\n"  # all bytes sent, the put still open
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)

    assert object_keys(object_store) == []
    assert staging_keys(object_store) != []  # the half-written upload is there, unseen
    if isinstance(object_store, LocalObjectStore):
        assert object_store.sweep_staging(older_than=timedelta(hours=1)) == 0  # may be live
        assert object_store.sweep_staging(older_than=timedelta(0)) == 1
        assert staging_keys(object_store) == []
