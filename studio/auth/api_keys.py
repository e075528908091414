"""Platform API keys: shown once at creation, stored as sha256, revocable, bound to the
platform (and so to the platform's wallet)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from studio.auth.tokens import new_token, token_sha256
from studio.db.models import ApiKey, Platform
from studio.errors import NotFound, Unauthorized

KEY_PREFIX = "tk"
LAST_USED_RESOLUTION = timedelta(minutes=1)
DISPLAY_CHARS = 10  # "tk_" + 7 characters: enough to tell keys apart, useless to an attacker


def create_api_key(db: Session, platform: Platform, name: str, now: datetime) -> tuple[str, ApiKey]:
    secret = new_token(KEY_PREFIX)
    row = ApiKey(
        platform_id=platform.id,
        name=name,
        prefix=secret[:DISPLAY_CHARS],
        key_sha256=token_sha256(secret),
        created_at=now,
    )
    db.add(row)
    db.flush()
    return secret, row


def list_api_keys(db: Session, platform: Platform) -> list[ApiKey]:
    return list(
        db.scalars(
            select(ApiKey).where(ApiKey.platform_id == platform.id).order_by(ApiKey.created_at)
        )
    )


def revoke_api_key(db: Session, platform: Platform, key_id: uuid.UUID, now: datetime) -> ApiKey:
    row = db.get(ApiKey, key_id)
    if row is None or row.platform_id != platform.id:
        raise NotFound("No such API key for this platform.", code="api_key_not_found")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def _unknown_key() -> Unauthorized:
    return Unauthorized("Unknown API key.", code="api_key_invalid")


def _refuse_revoked(revoked_at: datetime | None) -> None:
    if revoked_at is not None:
        raise Unauthorized("This API key was revoked.", code="api_key_revoked")


def _due_for_touch(last_used_at: datetime | None, now: datetime) -> bool:
    # Recorded at minute resolution: a write per request would serialise every API call.
    return last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION


def resolve_api_key(db: Session, secret: str, now: datetime) -> ApiKey:
    row = db.scalars(select(ApiKey).where(ApiKey.key_sha256 == token_sha256(secret))).one_or_none()
    if row is None:
        raise _unknown_key()
    _refuse_revoked(row.revoked_at)
    if _due_for_touch(row.last_used_at, now):
        row.last_used_at = now
    return row


@dataclass(frozen=True)
class KeyCaller:
    """A platform API key resolved without ORM objects: what the per-play route needs."""

    key_id: uuid.UUID
    platform_id: uuid.UUID
    channel_id: str | None


_CALLER_BY_HASH = (
    select(
        ApiKey.id, ApiKey.platform_id, ApiKey.revoked_at, ApiKey.last_used_at, Platform.channel_id
    )
    .join(Platform, Platform.id == ApiKey.platform_id)
    .where(ApiKey.key_sha256 == bindparam("sha"))
)
_TOUCH = (
    update(ApiKey)
    .where(ApiKey.id == bindparam("key_id"))
    .values(last_used_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def resolve_key_caller(db: Session, secret: str, now: datetime) -> KeyCaller:
    """:func:`resolve_api_key` for the hot path: one prebuilt Core statement (key and platform
    together), the minute-resolution ``last_used_at`` written and committed at once when due
    (so it is kept whether or not the caller's own work commits)."""
    row = db.execute(_CALLER_BY_HASH, {"sha": token_sha256(secret)}).one_or_none()
    if row is None:
        raise _unknown_key()
    key_id, platform_id, revoked_at, last_used_at, channel_id = row
    _refuse_revoked(revoked_at)
    if _due_for_touch(last_used_at, now):
        db.execute(_TOUCH, {"key_id": key_id, "now": now})
        db.commit()
    return KeyCaller(key_id, platform_id, channel_id)
