"""A read-only stream wrapper that hashes, counts and caps the bytes that pass through it."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from storage.base import CHUNK_SIZE
from storage.errors import ObjectTooLarge


class HashingReader:
    """Wraps ``source``: every byte read is fed to sha256 and counted.

    Raises ``ObjectTooLarge`` as soon as more than ``max_bytes`` have come out of ``source``, so a
    too-large upload is refused after reading at most ``max_bytes`` + one chunk. Exceptions from
    ``source`` propagate unchanged (a client disconnect stays a client disconnect).
    """

    def __init__(
        self, source: BinaryIO, *, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> None:
        if max_bytes is not None and max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be > 0, got {chunk_size}")
        self._source = source
        self._max_bytes = max_bytes
        self._chunk_size = chunk_size
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that remain if ``size < 0``); ``b""`` only at EOF.

        Unlike a raw stream it keeps reading until ``size`` bytes or EOF, so callers that fill a
        buffer (minio's multipart parts) get it in one piece instead of concatenating many.
        """
        first = self._next(size)
        if not first or len(first) == size:
            return first  # the common case for chunk-sized reads: no copy at all
        # BytesIO hands its buffer out without a copy in getvalue(): a part-sized read costs
        # one part of memory, not two (a list of pieces plus their join).
        buffer = io.BytesIO()
        buffer.write(first)
        while size < 0 or buffer.tell() < size:
            piece = self._next(size if size < 0 else size - buffer.tell())
            if not piece:
                break
            buffer.write(piece)
        return buffer.getvalue()

    def readable(self) -> bool:
        return True

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def _next(self, wanted: int) -> bytes:
        """One read of at most ``min(wanted, chunk_size)`` bytes (``wanted < 0``: a chunk)."""
        piece = self._source.read(self._chunk_size if wanted < 0 else min(wanted, self._chunk_size))
        if piece:
            self._take(piece)
        return piece

    def _take(self, piece: bytes) -> None:
        self.bytes_read += len(piece)
        if self._max_bytes is not None and self.bytes_read > self._max_bytes:
            raise ObjectTooLarge(self._max_bytes)
        self._hash.update(piece)
