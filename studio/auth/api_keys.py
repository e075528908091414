"""Platform API keys: shown once at creation, stored as sha256, revocable, bound to the
platform (and so to the platform's wallet)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
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


def resolve_api_key(db: Session, secret: str, now: datetime) -> ApiKey:
    row = db.scalars(select(ApiKey).where(ApiKey.key_sha256 == token_sha256(secret))).one_or_none()
    if row is None:
        raise Unauthorized("Unknown API key.", code="api_key_invalid")
    if row.revoked_at is not None:
        raise Unauthorized("This API key was revoked.", code="api_key_revoked")
    # Recorded at minute resolution: a write per request would serialise every API call.
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = now
    return row
