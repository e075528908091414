"""Audio uploads: streamed in, validated, stored content-addressed, recorded per owner."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from storage import ObjectStore, StoredObject
from studio.db.models import Account, Upload
from studio.deps import CreatorOrFan, CurrentAccount, DbDep, ServicesDep
from studio.errors import BadRequest, NotFound
from studio.schemas import SignedUrlOut, UploadOut
from studio.settings import Settings
from studio.upload_intake import ReceivedFile, receive_file
from studio.upload_records import add_upload
from voice_model.audio import AudioInfo, probe

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])

_MULTIPART_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def upload_out(row: Upload) -> UploadOut:
    return UploadOut(
        id=row.id,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        filename=row.filename,
        format=row.format,
        duration_s=row.duration_s,
        sample_rate=row.sample_rate,
        channels=row.channels,
        created_at=row.created_at,
    )


# The media type the object is stored (and served) with follows what the file decoded as,
# never the client's claim: an upload sent as text/html must not be served as a web page.
_MEDIA_TYPES = {
    "WAV": "audio/wav",
    "WAVEX": "audio/wav",
    "FLAC": "audio/flac",
    "OGG": "audio/ogg",
    "MP3": "audio/mpeg",
}


def media_type(info: AudioInfo) -> str:
    return _MEDIA_TYPES.get(info.format, "application/octet-stream")


def _validate_and_store(
    received: ReceivedFile, settings: Settings, store: ObjectStore
) -> AudioInfo:
    """Decode the whole file (bounded memory) before anything becomes visible, then store it;
    the store verifies the hash we computed while receiving."""
    info = probe(received.path, max_duration_s=settings.max_upload_duration_s)
    store.put_file(received.path, expected_sha256=received.sha256, content_type=media_type(info))
    return info


def _record(
    db: Session, owner: Account, received: ReceivedFile, info: AudioInfo, services: ServicesDep
) -> Upload:
    row = add_upload(
        db,
        owner,
        StoredObject(received.sha256, received.size),
        info,
        filename=received.filename,
        content_type=media_type(info),
        now=services.clock(),
    )
    db.commit()
    return row


@router.post("", response_model=UploadOut, status_code=201, openapi_extra=_MULTIPART_SCHEMA)
async def create_upload(
    request: Request, account: CreatorOrFan, db: DbDep, services: ServicesDep
) -> UploadOut:
    """Upload one audio file (wav, flac, ogg or mp3) as multipart field ``file``.

    Refused with a 4xx, storing nothing: not audio, corrupt or truncated, over the size or
    duration limit, silent, or containing NaN/inf samples. The same bytes uploaded twice are
    stored once; each upload still gets its own id."""
    settings = services.settings
    try:
        received = await receive_file(
            request.headers.get("content-type"),
            request.headers.get("content-length"),
            request.stream(),
            settings.tmp_dir,
            settings.max_upload_bytes,
        )
    except ClientDisconnect as exc:
        raise BadRequest("The upload was interrupted.", code="upload_interrupted") from exc
    try:
        info = await run_in_threadpool(_validate_and_store, received, settings, services.store)
        row = await run_in_threadpool(_record, db, account, received, info, services)
    finally:
        received.path.unlink(missing_ok=True)
    return upload_out(row)


def owned_upload(db: Session, upload_id: uuid.UUID, account: Account) -> Upload:
    row = db.get(Upload, upload_id)
    # Other users' uploads are reported as missing, not forbidden: ids are not an oracle.
    if row is None or row.owner_id != account.id:
        raise NotFound("No such upload.", code="upload_not_found")
    return row


@router.get("", response_model=list[UploadOut])
def list_uploads(account: CurrentAccount, db: DbDep) -> list[UploadOut]:
    rows = db.scalars(
        select(Upload).where(Upload.owner_id == account.id).order_by(Upload.created_at.desc())
    )
    return [upload_out(r) for r in rows]


@router.get("/{upload_id}", response_model=UploadOut)
def get_upload(upload_id: uuid.UUID, account: CurrentAccount, db: DbDep) -> UploadOut:
    return upload_out(owned_upload(db, upload_id, account))


@router.get("/{upload_id}/url", response_model=SignedUrlOut)
def get_upload_url(
    upload_id: uuid.UUID, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> SignedUrlOut:
    """A short-lived URL to fetch the uploaded file (range requests supported)."""
    row = owned_upload(db, upload_id, account)
    ttl = timedelta(seconds=services.settings.signed_url_ttl_s)
    url = services.store.signed_url(row.sha256, expires=ttl, filename=row.filename)
    return SignedUrlOut(url=url, expires_at=services.clock() + ttl)
