"""Per-play access for streaming platforms: one signed voucher in, one stream URL out."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from studio.auth.api_keys import resolve_key_caller
from studio.db.models import Platform
from studio.deps import DbDep, PlatformKey, api_key_secret
from studio.schemas import ErrorBody
from studio.settlement.access import access, play_proof
from studio.settlement.schemas import AccessIn, AccessOut, PlayProofOut, UsageOut
from studio.settlement.views import platform_usage

router = APIRouter(prefix="/v1/access", tags=["access"])


@router.post(
    "",
    response_model=AccessOut,
    status_code=201,
    responses={
        402: {"model": ErrorBody, "description": "underpaid, or the channel is under-funded"},
        403: {"model": ErrorBody, "description": "bad signature, wrong signer or channel"},
        409: {"model": ErrorBody, "description": "stale seq, replay, withdrawal pending"},
        410: {"model": ErrorBody, "description": "the track is retired"},
    },
)
def request_access(
    body: AccessIn,
    request: Request,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> AccessOut:
    """Pay one play with the channel's next cumulative voucher (EIP-712, signed by the
    channel's signer) and get a stream URL valid a few minutes. Refusals carry the reason as
    the error code: underpaid, overpaid, stale_seq, replay, bad_timestamp, usage_root_mismatch,
    under_funded, withdrawal_pending, bad_signature, wrong_signer, wrong_channel,
    unknown_track, track_retired, channel_not_open."""
    # The hot path: the session and the API key are resolved here rather than by the DbDep /
    # PlatformKey dependencies, so that a play costs one hop to the thread pool instead of
    # three, and the key and its platform come from one Core statement (no ORM objects).
    services = request.app.state.services
    with services.db() as db:
        caller = resolve_key_caller(db, api_key_secret(x_api_key), services.clock())
        return access(db, services, caller, body)


@router.get("/plays/{play_id}/proof", response_model=PlayProofOut)
def proof(
    play_id: uuid.UUID,
    key: PlatformKey,
    db: DbDep,
    size: int | None = Query(default=None, ge=1, le=2**63 - 1),
) -> PlayProofOut:
    """Proof that a charged play is in the channel's usage log the vouchers signed (of
    ``size`` records: the usageRoot of voucher ``seq``'s log; default the latest)."""
    platform = db.get(Platform, key.platform_id)
    assert platform is not None
    return play_proof(db, platform, play_id, size)


@router.get("/usage", response_model=list[UsageOut])
def usage(
    key: PlatformKey,
    db: DbDep,
    epoch: int | None = Query(default=None, ge=0, le=2**31 - 1),
) -> list[UsageOut]:
    """The platform's charged plays and amounts per epoch and track."""
    platform = db.get(Platform, key.platform_id)
    assert platform is not None
    return platform_usage(db, platform, epoch)
