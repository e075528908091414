"""Every case runs on both backends (``object_store`` is parametrized local / s3)."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage import (
    IntegrityError,
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    ObjectTooLarge,
    S3ObjectStore,
    StorageError,
    StoredObject,
)
from tests.services.seaweed import TEST_PART_SIZE, object_keys, staging_keys

MIB = 1 << 20
# Larger than two S3 parts, so uploads in these tests are multipart on S3.
BIG = 2 * TEST_PART_SIZE + 12345


def make_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FailingStream(io.RawIOBase):
    """Delivers ``data[:fail_after]`` and then fails like a client that disconnected."""

    def __init__(self, data: bytes, fail_after: int) -> None:
        self._data = memoryview(data)[:fail_after]
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._data):
            raise ConnectionResetError("client disconnected mid-upload")
        size = len(self._data) - self._pos if size < 0 else size
        piece = bytes(self._data[self._pos : self._pos + size])
        self._pos += len(piece)
        return piece


def assert_nothing_stored(store: ObjectStore) -> None:
    assert object_keys(store) == []
    assert staging_keys(store) == []


def test_put_then_read_back_every_way(object_store: ObjectStore, tmp_path: Path) -> None:
    data = make_bytes(BIG)
    stored = object_store.put(io.BytesIO(data), content_type="audio/wav")

    assert stored == StoredObject(sha256=sha(data), size=len(data))
    assert object_store.exists(stored.sha256)
    assert object_store.stat(stored.sha256) == stored
    assert b"".join(object_store.iter_bytes(stored.sha256)) == data
    assert (
        b"".join(object_store.iter_bytes(stored.sha256, start=MIB, end=3 * MIB + 1))
        == (data[MIB : 3 * MIB + 1])
    )
    object_store.download(stored.sha256, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == data
    assert object_keys(object_store) == [stored.sha256]
    assert staging_keys(object_store) == []

    object_store.delete(stored.sha256)
    assert not object_store.exists(stored.sha256)
    object_store.delete(stored.sha256)  # idempotent
    assert object_keys(object_store) == []


def test_put_file_and_empty_object(object_store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"")
    stored = object_store.put_file(source, expected_sha256=sha(b""))
    assert stored == StoredObject(sha256=sha(b""), size=0)
    assert list(object_store.iter_bytes(stored.sha256)) == []
    object_store.download(stored.sha256, tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == b""


def test_same_content_twice_is_one_object(object_store: ObjectStore) -> None:
    data = make_bytes(3 * MIB, seed=1)
    first = object_store.put(io.BytesIO(data))
    second = object_store.put(io.BytesIO(data), expected_sha256=first.sha256)
    assert first == second
    assert object_keys(object_store) == [first.sha256]
    assert staging_keys(object_store) == []


def test_expected_hash_mismatch_stores_nothing(object_store: ObjectStore) -> None:
    data = make_bytes(BIG, seed=2)
    wrong = sha(b"something else")
    with pytest.raises(IntegrityError) as raised:
        object_store.put(io.BytesIO(data), expected_sha256=wrong)
    assert (raised.value.expected, raised.value.actual) == (wrong, sha(data))
    assert isinstance(raised.value, ValueError)
    assert_nothing_stored(object_store)


def test_over_max_bytes_is_refused_and_nothing_stored(object_store: ObjectStore) -> None:
    data = make_bytes(BIG, seed=3)
    with pytest.raises(ObjectTooLarge) as raised:
        object_store.put(io.BytesIO(data), max_bytes=TEST_PART_SIZE + MIB)
    assert raised.value.max_bytes == TEST_PART_SIZE + MIB
    assert_nothing_stored(object_store)

    exact = object_store.put(io.BytesIO(data[:MIB]), max_bytes=MIB)  # the limit itself is fine
    assert exact.size == MIB


def test_stream_failing_midway_stores_nothing(object_store: ObjectStore) -> None:
    data = make_bytes(BIG, seed=4)
    with pytest.raises(ConnectionResetError):  # the client's error, not a storage error
        object_store.put(FailingStream(data, fail_after=TEST_PART_SIZE + MIB))  # type: ignore[arg-type]
    assert_nothing_stored(object_store)
    assert not object_store.exists(sha(data[: TEST_PART_SIZE + MIB]))


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [(0, None, b"0123456789"), (3, 7, b"3456"), (9, None, b"9"), (10, None, b""), (4, 4, b"")],
)
def test_range_reads(
    object_store: ObjectStore, start: int, end: int | None, expected: bytes
) -> None:
    stored = object_store.put(io.BytesIO(b"0123456789"))
    assert b"".join(object_store.iter_bytes(stored.sha256, start=start, end=end)) == expected


@pytest.mark.parametrize(("start", "end"), [(-1, None), (11, None), (5, 4), (0, 11), (2, -1)])
def test_bad_ranges_are_refused_up_front(
    object_store: ObjectStore, start: int, end: int | None
) -> None:
    stored = object_store.put(io.BytesIO(b"0123456789"))
    with pytest.raises(ValueError, match="bad byte range"):
        object_store.iter_bytes(stored.sha256, start=start, end=end)  # raises before iterating


def test_range_reads_match_slices(object_store: ObjectStore) -> None:
    data = make_bytes(300_001, seed=5)
    key = object_store.put(io.BytesIO(data)).sha256

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        bounds=st.tuples(
            st.integers(0, len(data)), st.one_of(st.none(), st.integers(0, len(data)))
        ).map(lambda b: (b[0], b[1]) if b[1] is None else tuple(sorted(b))),
        chunk_size=st.integers(1024, 200_000),
    )
    def check(bounds: tuple[int, int | None], chunk_size: int) -> None:
        start, end = bounds
        chunks = list(object_store.iter_bytes(key, start=start, end=end, chunk_size=chunk_size))
        assert b"".join(chunks) == data[start:end]
        assert all(0 < len(c) <= chunk_size for c in chunks)

    check()


def test_missing_object(object_store: ObjectStore, tmp_path: Path) -> None:
    missing = sha(b"never stored")
    assert not object_store.exists(missing)
    for call in (
        lambda: object_store.stat(missing),
        lambda: object_store.iter_bytes(missing),
        lambda: object_store.download(missing, tmp_path / "out"),
    ):
        with pytest.raises(ObjectNotFound) as raised:
            call()
        assert isinstance(raised.value, KeyError)
        assert str(raised.value) == f"no object stored under sha256 {missing}"
    assert not (tmp_path / "out").exists()
    object_store.delete(missing)


@pytest.mark.parametrize(
    "bad",
    ["A" * 64, "../" * 21 + "x", "0" * 63, "0" * 65, "", "g" * 64, "0" * 63 + "\n", 12],
)
def test_malformed_keys_are_refused_everywhere(
    object_store: ObjectStore, bad: object, tmp_path: Path
) -> None:
    from datetime import timedelta

    for call in (
        lambda: object_store.exists(bad),  # type: ignore[arg-type]
        lambda: object_store.stat(bad),  # type: ignore[arg-type]
        lambda: object_store.iter_bytes(bad),  # type: ignore[arg-type]
        lambda: object_store.download(bad, tmp_path / "out"),  # type: ignore[arg-type]
        lambda: object_store.delete(bad),  # type: ignore[arg-type]
        lambda: object_store.signed_url(bad, expires=timedelta(minutes=1)),  # type: ignore[arg-type]
        lambda: object_store.put(io.BytesIO(b"x"), expected_sha256=bad),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match="not a lowercase hex sha256"):
            call()
    assert_nothing_stored(object_store)


def corrupt(store: ObjectStore, key: str, data: bytes) -> None:
    """Overwrite a stored object's bytes behind the store's back (disk rot, operator error)."""
    if isinstance(store, LocalObjectStore):
        path = next((store.root / "sha256").rglob(key))
        path.write_bytes(data)
    else:
        assert isinstance(store, S3ObjectStore)
        store.client.put_object(store.bucket, f"sha256/{key}", io.BytesIO(data), len(data))


def test_download_verifies_and_leaves_dest_alone_on_mismatch(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    data = make_bytes(2 * MIB, seed=6)
    key = object_store.put(io.BytesIO(data)).sha256
    corrupt(object_store, key, data[:-1] + b"\0")
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"previous")
    with pytest.raises(IntegrityError):
        object_store.download(key, dest)
    assert dest.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]  # no temp file left


def test_check_passes_on_a_healthy_store(object_store: ObjectStore) -> None:
    object_store.check()


def test_errors_share_one_base() -> None:
    assert issubclass(ObjectNotFound, StorageError)
    assert issubclass(ObjectTooLarge, ValueError)
    assert str(ObjectTooLarge(5)) == "object exceeds the limit of 5 bytes"
