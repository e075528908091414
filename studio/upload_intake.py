"""Receiving an upload: the multipart body is streamed chunk by chunk into a scratch file while
it is hashed and counted, so an upload is never held whole in memory and an oversized or
endless body is cut off as soon as it crosses the limit. Nothing here is visible to anyone
until the caller has validated the audio and stored it (content-addressed) in the object store;
the scratch file is removed on every path out."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from python_multipart.multipart import MultipartParser, parse_options_header

from studio.errors import BadRequest, PayloadTooLarge, Unprocessable, UnsupportedMediaType

FILE_FIELD = b"file"
MAX_OTHER_FIELD_BYTES = 64 * 1024  # text fields we ignore may not be used to fill memory
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file
STALE_SCRATCH_S = 3600


@dataclass
class ReceivedFile:
    path: Path
    sha256: str
    size: int
    filename: str | None


class _Receiver:
    """Multipart callbacks writing the ``file`` part to disk as it arrives."""

    def __init__(self, scratch_dir: Path, max_bytes: int) -> None:
        self.scratch_dir = scratch_dir
        self.max_bytes = max_bytes
        self.headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self.in_file = False
        self.done_file = False
        self.other_bytes = 0
        self.out: IO[bytes] | None = None
        self.path: Path | None = None
        self.hasher = hashlib.sha256()
        self.size = 0
        self.filename: str | None = None

    # python-multipart hands us slices of its buffer: (data, start, end)
    def on_part_begin(self) -> None:
        self.headers = {}
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        if params.get(b"name") == FILE_FIELD:
            if self.done_file or self.out is not None:
                raise BadRequest("Send exactly one file per upload.", code="upload_many_files")
            self.in_file = True
            raw_name = params.get(b"filename")
            self.filename = (
                _clean_filename(raw_name.decode("utf-8", "replace")) if raw_name else None
            )
            fd, name = tempfile.mkstemp(prefix="upload-", dir=self.scratch_dir)
            self.path = Path(name)
            self.out = os.fdopen(fd, "wb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if not self.in_file:
            self.other_bytes += len(chunk)
            if self.other_bytes > MAX_OTHER_FIELD_BYTES:
                raise PayloadTooLarge("Form fields are too large.", code="upload_fields_too_large")
            return
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise _too_large(self.max_bytes)
        assert self.out is not None
        self.out.write(chunk)
        self.hasher.update(chunk)

    def on_part_end(self) -> None:
        if self.in_file and self.out is not None:
            self.out.flush()
            os.fsync(self.out.fileno())
            self.out.close()
            self.done_file = True
            self.in_file = False

    def callbacks(self) -> Any:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def discard(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than the {max_bytes // (1024 * 1024)} MB limit.",
        code="upload_too_large",
        detail={"max_bytes": max_bytes},
    )


def _clean_filename(name: str) -> str:
    # Keep only the last path component and printable characters; it is display-only.
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:255] or "upload"


async def receive_file(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    scratch_dir: Path,
    max_bytes: int,
) -> ReceivedFile:
    """Stream a ``multipart/form-data`` body with a ``file`` field into ``scratch_dir``.

    Raises before reading anything when the declared length is already too large, and as soon
    as the file part crosses ``max_bytes`` otherwise (chunked or lying clients)."""
    mime, params = parse_options_header(content_type or "")
    if mime != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data with a 'file' field.", code="upload_not_multipart"
        )
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError as exc:
            raise BadRequest("Invalid Content-Length.", code="bad_content_length") from exc
        if declared > max_bytes + MULTIPART_OVERHEAD:
            raise _too_large(max_bytes)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    receiver = _Receiver(scratch_dir, max_bytes)
    parser = MultipartParser(params[b"boundary"], receiver.callbacks())
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        if receiver.path is None:
            raise Unprocessable("The form has no 'file' field.", code="upload_missing_file")
        if not receiver.done_file:
            raise BadRequest("The upload ended before the file did.", code="upload_incomplete")
    except BaseException:
        receiver.discard()
        raise
    return ReceivedFile(
        path=receiver.path,
        sha256=receiver.hasher.hexdigest(),
        size=receiver.size,
        filename=receiver.filename,
    )


def sweep_scratch(scratch_dir: Path, older_than_s: float = STALE_SCRATCH_S) -> int:
    """Remove scratch files left by a process that died mid-upload (run at start-up)."""
    if not scratch_dir.exists():
        return 0
    cutoff = time.time() - older_than_s
    removed = 0
    for path in scratch_dir.glob("upload-*"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
