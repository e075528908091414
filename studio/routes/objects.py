"""Time-limited signed object URLs of the local object store, served by the studio (the S3
backend hands out presigned URLs of the S3 server instead)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from storage import LocalObjectStore
from studio.deps import ServicesDep
from studio.errors import Forbidden, NotFound, TimbreError

router = APIRouter(prefix="/v1/objects", tags=["objects"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(TimbreError):
    status_code = 416
    code = "range_not_satisfiable"


@router.get("/{sha256}")
def get_object(
    sha256: str,
    request: Request,
    services: ServicesDep,
    expires: int = Query(...),
    sig: str = Query(..., max_length=128),
    filename: str | None = Query(None, max_length=255),
) -> StreamingResponse:
    """Stream an object named by a signed URL; honours a single ``Range: bytes=a-b``."""
    store = services.store
    if not isinstance(store, LocalObjectStore):
        raise NotFound("Objects are served by the object store's own URLs.", code="not_found")
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise NotFound("No such object.", code="object_not_found")
    if not store.verify_signed_url(sha256, expires, sig, filename):
        raise Forbidden("This link is invalid or has expired.", code="url_invalid")
    size = store.stat(sha256).size
    start, end, status = 0, size, 200
    header = request.headers.get("range")
    if header:
        m = _RANGE.match(header.strip())
        if not m or (m.group(1) == "" and m.group(2) == ""):
            raise RangeNotSatisfiable("Unsupported Range header.", detail={"size": size})
        if m.group(1) == "":  # suffix range: the last N bytes
            start, end = max(0, size - int(m.group(2))), size
        else:
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
        if start >= size or start >= end:
            raise RangeNotSatisfiable("The range is outside the object.", detail={"size": size})
        status = 206
    headers = {"accept-ranges": "bytes", "content-length": str(end - start)}
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
    if filename:
        # ASCII printable only: header values are latin-1 and quotes would end the value.
        safe = "".join(c for c in filename if 32 <= ord(c) < 127 and c not in '"\\')
        headers["content-disposition"] = f'attachment; filename="{safe}"'

    def body() -> Iterator[bytes]:
        yield from store.iter_bytes(sha256, start=start, end=end)

    return StreamingResponse(
        body(), status_code=status, headers=headers, media_type="application/octet-stream"
    )
