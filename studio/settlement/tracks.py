"""Fan tracks: recorded from a succeeded conversion, published to the VoiceRegistry by the
relayer (with the creator's TrackApproval when the voice's terms require it).

Crash safety as for terms (``studio.chain_relay``): the track is recorded before anything is
sent, and relaying first reads the registry, so a track already registered (the process died
after sending) is adopted, never sent twice. ``relay_pending_tracks`` retries drafts."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.exceptions import Web3Exception

from contracts.eip712 import (
    SignatureError,
    TrackApproval,
    recover_digest,
    registry_domain,
    track_approval_digest,
    track_approval_typed_data,
)
from contracts.errors import ContractError
from contracts.transact import transact
from contracts.views import track as read_track
from studio.auth.erc1271 import is_valid_erc1271_signature
from studio.db.models import Account, Job, Track, VoiceModel
from studio.errors import Conflict, Forbidden, NotFound
from studio.services import Services
from studio.settlement.chain import SettlementChain, settlement_chain
from studio.settlement.schemas import TrackOut
from studio.voices import current_terms

log = logging.getLogger("studio.tracks")

PLAYABLE = "published"


def track_out(db: Session, t: Track) -> TrackOut:
    fan = db.get(Account, t.fan_id)
    assert fan is not None
    return TrackOut(
        id=t.id,
        title=t.title,
        voice_id=t.voice_model_id,
        fan_address=fan.address,
        content_sha256=t.content_sha256,
        onchain_id=t.onchain_id,
        status=t.status,
        tx_hash=t.tx_hash,
        created_at=t.created_at,
        published_at=t.published_at,
        retired_at=t.retired_at,
    )


def content_id(t: Track) -> bytes:
    """The track's on-chain id: the sha256 of its audio."""
    return bytes.fromhex(t.content_sha256)


def model_id(vm: VoiceModel) -> bytes:
    if vm.onchain_id is None:
        raise Conflict(
            "The voice's terms are not on-chain yet; try again shortly.", code="voice_not_onchain"
        )
    return bytes.fromhex(vm.onchain_id.removeprefix("0x"))


def create_track(db: Session, fan: Account, job_id: uuid.UUID, title: str, now: datetime) -> Track:
    """Records a track from the fan's own succeeded conversion (not yet on-chain)."""
    job = db.get(Job, job_id)
    if job is None or job.owner_id != fan.id or job.kind != "convert":
        raise NotFound("No such conversion job.", code="job_not_found")
    if job.status != "succeeded" or job.result_sha256 is None or job.voice_model_id is None:
        raise Conflict("The conversion has not succeeded.", code="job_not_succeeded")
    vm = db.get(VoiceModel, job.voice_model_id)
    assert vm is not None
    if vm.status == "retired":
        raise Conflict(
            "The creator has retired this voice; it takes no new tracks.", code="voice_retired"
        )
    model_id(vm)  # the voice must be on-chain to register a derivative of it
    existing = db.scalars(
        select(Track).where(Track.content_sha256 == job.result_sha256)
    ).one_or_none()
    if existing is not None:
        raise Conflict(
            "This audio is already a track.",
            code="track_exists",
            detail={"track_id": str(existing.id)},
        )
    terms = current_terms(vm)
    track = Track(
        voice_model_id=vm.id,
        fan_id=fan.id,
        job_id=job.id,
        title=title,
        content_sha256=job.result_sha256,
        fan_payout_address=fan.address,
        status="pending_approval" if terms is not None and terms.approval_required else "draft",
        created_at=now,
    )
    db.add(track)
    return track


def approval_for(chain: SettlementChain, vm: VoiceModel, t: Track, deadline: int) -> TrackApproval:
    return TrackApproval(model_id(vm), content_id(t), t.fan_payout_address, deadline)


def approval_typed_data(
    chain: SettlementChain, vm: VoiceModel, t: Track, deadline: int
) -> dict[str, object]:
    d = chain.deployment
    return track_approval_typed_data(
        registry_domain(d.chain_id, d.registry), approval_for(chain, vm, t, deadline)
    )


def check_approval(
    chain: SettlementChain, vm: VoiceModel, creator: Account, t: Track, deadline: int, sig: str
) -> None:
    """The creator's EIP-712 TrackApproval over exactly this track (EOA or ERC-1271)."""
    d = chain.deployment
    digest = track_approval_digest(
        registry_domain(d.chain_id, d.registry), approval_for(chain, vm, t, deadline)
    )
    signature = bytes.fromhex(sig.removeprefix("0x"))
    try:
        if recover_digest(digest, signature) == to_checksum_address(creator.address):
            return
    except SignatureError:
        pass
    if is_valid_erc1271_signature(
        chain.w3, to_checksum_address(creator.address), digest, signature
    ):
        return
    raise Forbidden(
        "The approval is not signed by the voice's creator.", code="approval_bad_signature"
    )


def relay_track(chain: SettlementChain, db: Session, t: Track, now: datetime) -> None:
    """Registers ``t`` in the VoiceRegistry (or adopts it if it already is) and publishes it.
    Raises ContractError on a revert."""
    vm = db.get(VoiceModel, t.voice_model_id)
    assert vm is not None
    registry = chain.contracts.registry
    on_chain = read_track(registry, content_id(t))
    if on_chain is None:
        sig = bytes.fromhex((t.approval_signature or "0x").removeprefix("0x"))
        fn = registry.functions.registerTrack(
            model_id(vm), content_id(t), t.fan_payout_address, t.approval_deadline or 0, sig
        )
        receipt = transact(chain.w3, fn, chain.require_sender())
        t.tx_hash = receipt["transactionHash"].to_0x_hex()
    elif on_chain.fan.lower() != t.fan_payout_address.lower() or on_chain.model_id != model_id(vm):
        raise Conflict(
            "This audio is registered on-chain as someone else's track.", code="track_taken"
        )
    t.onchain_id = "0x" + t.content_sha256
    t.status = PLAYABLE
    t.published_at = now


def try_relay(services: Services, db: Session, t: Track) -> None:
    """Relays a draft now; leaves it a draft (retried later) when the chain is unreachable."""
    chain = settlement_chain(services)
    if chain is None or chain.sender is None:
        return
    try:
        relay_track(chain, db, t, services.clock())
    except ContractError as exc:
        db.rollback()
        raise Conflict(
            f"The registry refused this track: {type(exc).__name__}.",
            code="registry_refused",
            detail={"reason": type(exc).__name__},
        ) from exc
    except (OSError, Web3Exception):
        log.warning("chain unreachable; track stays a draft", extra={"track": str(t.id)})
        db.rollback()
    else:
        db.commit()


def relay_pending_tracks(services: Services) -> int:
    """Retries every draft track (settlement runs it first); returns how many went through."""
    chain = settlement_chain(services)
    if chain is None or chain.sender is None:
        return 0
    done = 0
    with services.db() as db:
        for t in db.scalars(select(Track).where(Track.status == "draft")).all():
            try:
                relay_track(chain, db, t, services.clock())
                db.commit()
                done += 1
            except Exception:
                db.rollback()
                log.exception("relaying a track failed", extra={"track": str(t.id)})
    return done


def visible_track(db: Session, track_id: uuid.UUID, viewer: Account | None) -> Track:
    """Published and retired tracks are public; others only to their fan and the creator."""
    t = db.get(Track, track_id)
    if t is None:
        raise NotFound("No such track.", code="track_not_found")
    if t.status in (PLAYABLE, "retired"):
        return t
    if viewer is not None and (viewer.id == t.fan_id or _creator_of(db, t) == viewer.id):
        return t
    raise NotFound("No such track.", code="track_not_found")


def _creator_of(db: Session, t: Track) -> uuid.UUID:
    vm = db.get(VoiceModel, t.voice_model_id)
    assert vm is not None
    return vm.creator_id


def creators_track(db: Session, track_id: uuid.UUID, creator: Account) -> tuple[Track, VoiceModel]:
    t = db.get(Track, track_id)
    vm = db.get(VoiceModel, t.voice_model_id) if t is not None else None
    if t is None or vm is None or vm.creator_id != creator.id:
        raise NotFound("No such track.", code="track_not_found")
    return t, vm
