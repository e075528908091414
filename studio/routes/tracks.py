"""Fan tracks: publish a conversion, the creator's approval queue, public reads."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from fastapi import APIRouter, Query
from sqlalchemy import select

from studio.db.models import Track, VoiceModel
from studio.deps import Creator, CurrentAccount, DbDep, Fan, OptionalAccount, ServicesDep
from studio.errors import Conflict, Forbidden, NotFound
from studio.schemas import ErrorBody, SignedUrlOut
from studio.settlement.chain import require_chain
from studio.settlement.schemas import ApprovalIn, ApprovalRequestOut, TrackIn, TrackOut
from studio.settlement.tracks import (
    PLAYABLE,
    approval_typed_data,
    check_approval,
    create_track,
    creators_track,
    track_out,
    try_relay,
    visible_track,
)

router = APIRouter(prefix="/v1/tracks", tags=["tracks"])

APPROVAL_TTL_S = 3600


@router.post("", response_model=TrackOut, status_code=201)
def publish(body: TrackIn, fan: Fan, db: DbDep, services: ServicesDep) -> TrackOut:
    """Publish a succeeded conversion as a track: registered on-chain now, or once the voice's
    creator approves it when the terms require approval."""
    t = create_track(db, fan, body.job_id, body.title, services.clock())
    db.commit()  # recorded before anything is sent: a crash leaves a draft, relayed later
    if t.status == "draft":
        try:
            try_relay(services, db, t)
        except Conflict:
            db.delete(t)
            db.commit()
            raise
    return track_out(db, t)


@router.get("", response_model=list[TrackOut])
def list_tracks(
    db: DbDep,
    voice_id: uuid.UUID | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[TrackOut]:
    """Published tracks, newest first (optionally of one voice)."""
    q = select(Track).where(Track.status == PLAYABLE)
    if voice_id is not None:
        q = q.where(Track.voice_model_id == voice_id)
    rows = db.scalars(q.order_by(Track.created_at.desc()).limit(limit))
    return [track_out(db, t) for t in rows]


@router.get("/mine", response_model=list[TrackOut])
def my_tracks(account: CurrentAccount, db: DbDep) -> list[TrackOut]:
    """The signed-in fan's tracks, any status."""
    rows = db.scalars(
        select(Track).where(Track.fan_id == account.id).order_by(Track.created_at.desc())
    )
    return [track_out(db, t) for t in rows]


@router.get("/approvals", response_model=list[TrackOut])
def approval_queue(creator: Creator, db: DbDep) -> list[TrackOut]:
    """Tracks of the creator's voices waiting for the creator's approval."""
    rows = db.scalars(
        select(Track)
        .join(VoiceModel, VoiceModel.id == Track.voice_model_id)
        .where(VoiceModel.creator_id == creator.id, Track.status == "pending_approval")
        .order_by(Track.created_at)
    )
    return [track_out(db, t) for t in rows]


@router.get("/{track_id}", response_model=TrackOut)
def get_track(track_id: uuid.UUID, db: DbDep, viewer: OptionalAccount) -> TrackOut:
    return track_out(db, visible_track(db, track_id, viewer))


@router.get(
    "/{track_id}/audio",
    response_model=SignedUrlOut,
    responses={
        403: {"model": ErrorBody, "description": "a published track: streamed through /v1/access"},
        404: {"model": ErrorBody, "description": "no such track, or not visible to the caller"},
    },
)
def track_audio(
    track_id: uuid.UUID, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> SignedUrlOut:
    """A short-lived URL of the track's audio for its fan and the voice's creator (to listen
    before approving, or to their own track). Everyone else hears published tracks only as
    paid plays through a platform (``POST /v1/access``)."""
    t = visible_track(db, track_id, account)
    vm = db.get(VoiceModel, t.voice_model_id)
    assert vm is not None
    if account.id not in (t.fan_id, vm.creator_id):
        raise Forbidden(
            "Published tracks are streamed through a platform, each play paid for; only the "
            "track's fan and the voice's creator can listen here.",
            code="paid_stream_only",
        )
    ttl = timedelta(seconds=services.settings.signed_url_ttl_s)
    url = services.store.signed_url(t.content_sha256, expires=ttl)
    return SignedUrlOut(url=url, expires_at=services.clock() + ttl)


@router.get("/{track_id}/approval", response_model=ApprovalRequestOut)
def approval_request(
    track_id: uuid.UUID,
    creator: Creator,
    db: DbDep,
    services: ServicesDep,
    deadline: int | None = Query(default=None, gt=0, le=2**64 - 1),
) -> ApprovalRequestOut:
    """The EIP-712 TrackApproval the creator signs (wallet ``eth_signTypedData_v4``)."""
    t, vm = creators_track(db, track_id, creator)
    chain = require_chain(services)
    when = deadline or int(time.time()) + APPROVAL_TTL_S
    return ApprovalRequestOut(
        track_id=t.id, deadline=when, typed_data=approval_typed_data(chain, vm, t, when)
    )


@router.post("/{track_id}/approve", response_model=TrackOut)
def approve(
    track_id: uuid.UUID, body: ApprovalIn, creator: Creator, db: DbDep, services: ServicesDep
) -> TrackOut:
    """The creator approves a pending track with their signature; it is then registered."""
    t, vm = creators_track(db, track_id, creator)
    if t.status != "pending_approval":
        raise Conflict("This track is not waiting for approval.", code="track_not_pending")
    chain = require_chain(services)
    check_approval(chain, vm, creator, t, body.deadline, body.signature)
    t.approval_signature, t.approval_deadline = body.signature, body.deadline
    t.status = "draft"
    db.commit()
    try:
        try_relay(services, db, t)
    except Conflict:
        t.approval_signature, t.approval_deadline, t.status = None, None, "pending_approval"
        db.commit()
        raise
    return track_out(db, t)


@router.post("/{track_id}/reject", response_model=TrackOut)
def reject(track_id: uuid.UUID, creator: Creator, db: DbDep) -> TrackOut:
    """The creator refuses a pending track; it is never registered."""
    t, _ = creators_track(db, track_id, creator)
    if t.status != "pending_approval":
        raise Conflict("This track is not waiting for approval.", code="track_not_pending")
    t.status = "rejected"
    db.commit()
    return track_out(db, t)


@router.post("/{track_id}/retire", response_model=TrackOut)
def retire_track(
    track_id: uuid.UUID, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> TrackOut:
    """Its fan or the voice's creator stops new plays; what it earned stays earned."""
    t = visible_track(db, track_id, account)
    vm = db.get(VoiceModel, t.voice_model_id)
    assert vm is not None
    if account.id not in (t.fan_id, vm.creator_id):
        # As for every other object: someone else's answers as missing (ids are no oracle).
        raise NotFound("No such track.", code="track_not_found")
    if t.status != "retired":
        t.status, t.retired_at = "retired", services.clock()
        db.commit()
    return track_out(db, t)
