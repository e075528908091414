"""Streaming platforms: registration (bound to the signed-in wallet) and API key lifecycle."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from studio.auth.api_keys import create_api_key, list_api_keys, revoke_api_key
from studio.db.models import Account, AccountRole, ApiKey, Platform, Track
from studio.deps import CurrentAccount, DbDep, PlatformKey, ServicesDep
from studio.errors import Conflict, NotFound
from studio.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, PlatformIn, PlatformOut
from studio.settlement.schemas import UsageOut
from studio.settlement.views import platform_usage

router = APIRouter(prefix="/v1/platforms", tags=["platforms"])


class TrackUsageOut(UsageOut):
    """A platform's charged plays of one track in one epoch, with the track's title."""

    title: str


def _platform_out(p: Platform) -> PlatformOut:
    return PlatformOut(
        id=p.id,
        name=p.name,
        wallet_address=p.wallet_address,
        channel_id=p.channel_id,
        created_at=p.created_at,
    )


def _key_out(k: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=k.id,
        name=k.name,
        prefix=k.prefix,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
    )


def _owned_platform(db: Session, platform_id: uuid.UUID, account: Account) -> Platform:
    platform = db.get(Platform, platform_id)
    # Someone else's platform is reported as missing: ids are not an oracle.
    if platform is None or platform.owner_id != account.id:
        raise NotFound("No such platform.", code="platform_not_found")
    return platform


@router.post("", response_model=PlatformOut, status_code=201)
def register_platform(
    body: PlatformIn, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> PlatformOut:
    """Register a platform paying from the signed-in wallet (one platform per wallet)."""
    existing = db.scalars(
        select(Platform).where(Platform.wallet_address == account.address)
    ).one_or_none()
    if existing is not None:
        raise Conflict(
            "This wallet already has a platform.",
            code="platform_exists",
            detail={"platform_id": str(existing.id)},
        )
    now = services.clock()
    platform = Platform(
        owner_id=account.id, name=body.name, wallet_address=account.address, created_at=now
    )
    db.add(platform)
    if "platform" not in account.role_names:
        account.roles.append(AccountRole(role="platform", granted_at=now))
    db.commit()
    return _platform_out(platform)


@router.get("/mine", response_model=PlatformOut)
def my_platform(account: CurrentAccount, db: DbDep) -> PlatformOut:
    """The signed-in wallet's platform (the platform console's starting point)."""
    platform = db.scalars(select(Platform).where(Platform.owner_id == account.id)).first()
    if platform is None:
        raise NotFound("This wallet has no platform yet.", code="no_platform")
    return _platform_out(platform)


@router.get("/current", response_model=PlatformOut)
def platform_for_key(key: PlatformKey) -> PlatformOut:
    """The platform an API key belongs to (authenticated with X-API-Key)."""
    return _platform_out(key.platform)


@router.get("/{platform_id}", response_model=PlatformOut)
def get_platform(platform_id: uuid.UUID, account: CurrentAccount, db: DbDep) -> PlatformOut:
    return _platform_out(_owned_platform(db, platform_id, account))


@router.post("/{platform_id}/api-keys", response_model=ApiKeyCreated, status_code=201)
def new_api_key(
    platform_id: uuid.UUID,
    body: ApiKeyIn,
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
) -> ApiKeyCreated:
    """Create an API key. The secret is in this response only; we keep just its hash."""
    platform = _owned_platform(db, platform_id, account)
    secret, row = create_api_key(db, platform, body.name, services.clock())
    db.commit()
    return ApiKeyCreated(**_key_out(row).model_dump(), key=secret)


@router.get("/{platform_id}/api-keys", response_model=list[ApiKeyOut])
def get_api_keys(platform_id: uuid.UUID, account: CurrentAccount, db: DbDep) -> list[ApiKeyOut]:
    platform = _owned_platform(db, platform_id, account)
    return [_key_out(k) for k in list_api_keys(db, platform)]


@router.delete("/{platform_id}/api-keys/{key_id}", response_model=ApiKeyOut)
def delete_api_key(
    platform_id: uuid.UUID,
    key_id: uuid.UUID,
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
) -> ApiKeyOut:
    """Revoke a key; requests using it are refused from now on."""
    platform = _owned_platform(db, platform_id, account)
    row = revoke_api_key(db, platform, key_id, services.clock())
    db.commit()
    return _key_out(row)


@router.get("/{platform_id}/usage", response_model=list[TrackUsageOut])
def get_usage(
    platform_id: uuid.UUID,
    account: CurrentAccount,
    db: DbDep,
    epoch: int | None = Query(default=None, ge=0, le=2**31 - 1),
) -> list[TrackUsageOut]:
    """The owner's view of ``GET /v1/access/usage``: charged plays and amounts per epoch and
    track (settled or not), with each track's title."""
    platform = _owned_platform(db, platform_id, account)
    out = []
    for u in platform_usage(db, platform, epoch):
        track = db.get(Track, u.track_id)
        assert track is not None
        out.append(TrackUsageOut(**u.model_dump(), title=track.title))
    return out
