"""The pieces both backends share: key and range checks, the hashing reader, download names."""

from __future__ import annotations

import hashlib
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage import ObjectTooLarge, content_disposition
from storage.content_disposition import check_filename
from storage.hashing_reader import HashingReader
from storage.keys import check_range, check_sha256


class Trickle(io.RawIOBase):
    """A source that returns at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


@given(
    data=st.binary(max_size=5000),
    step=st.integers(1, 700),
    chunk_size=st.integers(1, 900),
    read_size=st.one_of(st.just(-1), st.integers(1, 3000)),
)
def test_hashing_reader_passes_bytes_through_and_hashes_them(
    data: bytes, step: int, chunk_size: int, read_size: int
) -> None:
    reader = HashingReader(Trickle(data, step), chunk_size=chunk_size)  # type: ignore[arg-type]
    pieces = []
    while piece := reader.read(read_size):
        assert read_size < 0 or len(piece) <= read_size
        pieces.append(piece)
    # a full-size read comes back whole, however the source trickles
    assert all(len(p) == read_size for p in pieces[:-1]) or read_size < 0
    assert b"".join(pieces) == data
    assert reader.bytes_read == len(data)
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hashing_reader_stops_one_chunk_past_the_limit() -> None:
    source = io.BytesIO(b"x" * 10_000)
    reader = HashingReader(source, max_bytes=1000, chunk_size=256)
    with pytest.raises(ObjectTooLarge):
        while reader.read(256):
            pass
    assert source.tell() <= 1000 + 256
    with pytest.raises(ValueError, match="max_bytes"):
        HashingReader(io.BytesIO(), max_bytes=-1)


def test_check_sha256() -> None:
    good = hashlib.sha256(b"").hexdigest()
    assert check_sha256(good) == good
    for bad in (good.upper(), good[:-1], good + "0", " " + good[1:], "../" + good[3:], b"0" * 64):
        with pytest.raises(ValueError):
            check_sha256(bad)


def test_check_range() -> None:
    assert check_range(0, None, 0) == 0
    assert check_range(2, None, 10) == 10
    assert check_range(2, 5, 10) == 5
    for start, end in ((-1, None), (11, None), (3, 2), (0, 11)):
        with pytest.raises(ValueError, match="bad byte range"):
            check_range(start, end, 10)


def test_content_disposition_is_header_safe() -> None:
    assert content_disposition("take.wav") == (
        "attachment; filename=\"take.wav\"; filename*=UTF-8''take.wav"
    )
    assert content_disposition('a "b"; c=%.wav') == (
        "attachment; filename=\"a _b_; c=_.wav\"; filename*=UTF-8''a%20%22b%22%3B%20c%3D%25.wav"
    )
    for bad in ("", ".", "..", "a/b", "a\\b", "a\r\nSet-Cookie: x", "\x00", "x" * 256):
        with pytest.raises(ValueError, match="filename"):
            check_filename(bad)
