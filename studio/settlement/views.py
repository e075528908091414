"""Read models of settled money: a payee's cumulative amount and proof, earnings per epoch and
per track, epochs with their reports."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from contracts.transact import transact
from royalties.splits import checksum
from studio.db.models import (
    Account,
    Epoch,
    Payout,
    Platform,
    Play,
    Track,
    TrackEarning,
    VoiceModel,
)
from studio.errors import Conflict, NotFound
from studio.services import Services
from studio.settlement.chain import SettlementChain, answers_503
from studio.settlement.schemas import (
    EpochEarningOut,
    EpochOut,
    PayoutOut,
    TrackEarningOut,
    UsageOut,
    VoiceEarningOut,
)


@answers_503
def payout_for(db: Session, chain: SettlementChain | None, address: str) -> PayoutOut:
    """The leaf of ``address`` in the claimable root (or, before it is claimable, the latest)."""
    address = checksum(address)
    active_epoch: int | None = None
    claimed = 0
    if chain is not None:
        dist = chain.contracts.distributor.functions
        root, epoch = dist.activeRoot().call()
        if int.from_bytes(bytes(root), "big"):
            active_epoch = int(epoch)
        claimed = int(dist.claimed(address).call())
    row = None
    if active_epoch is not None:
        row = db.scalars(
            select(Payout)
            .where(Payout.payee_address == address, Payout.epoch <= active_epoch)
            .order_by(Payout.epoch.desc())
            .limit(1)
        ).one_or_none()
        if row is not None and row.epoch != active_epoch:
            row = None  # the account has no leaf in the active root: nothing claimable there
    if row is None:
        row = db.scalars(
            select(Payout)
            .where(Payout.payee_address == address)
            .order_by(Payout.epoch.desc())
            .limit(1)
        ).one_or_none()
    epoch_row = db.get(Epoch, row.epoch) if row is not None else None
    active = row is not None and row.epoch == active_epoch
    cumulative = row.cumulative_amount if row else 0
    return PayoutOut(
        address=address,
        epoch=row.epoch if row else None,
        cumulative_amount=str(cumulative),
        claimed_onchain=str(claimed),
        claimable=str(max(cumulative - claimed, 0) if active else 0),
        root=epoch_row.merkle_root if epoch_row else None,
        root_active=active,
        proof=list(row.proof) if row else [],
        distributor=chain.deployment.distributor if chain else None,
    )


@answers_503
def claim_for(db: Session, chain: SettlementChain, address: str) -> str:
    """Sends ``claimFor`` for ``address`` from the service's account; returns the tx hash."""
    p = payout_for(db, chain, address)
    if not p.root_active or int(p.claimable) <= 0:
        raise Conflict("Nothing is claimable yet.", code="nothing_to_claim")
    fn = chain.contracts.distributor.functions.claimFor(
        p.address, int(p.cumulative_amount), [bytes.fromhex(x[2:]) for x in p.proof]
    )
    receipt = transact(chain.w3, fn, chain.require_sender())
    return str(receipt["transactionHash"].to_0x_hex())


def epoch_earnings(db: Session, address: str) -> list[EpochEarningOut]:
    rows = db.scalars(
        select(Payout).where(Payout.payee_address == checksum(address)).order_by(Payout.epoch)
    )
    out, previous = [], 0
    for r in rows:
        out.append(
            EpochEarningOut(
                epoch=r.epoch,
                cumulative_amount=str(r.cumulative_amount),
                increment=str(r.cumulative_amount - previous),
            )
        )
        previous = r.cumulative_amount
    return out


def track_earnings(db: Session, account: Account, epoch: int | None) -> list[TrackEarningOut]:
    """Cumulative figures, as of ``epoch`` (default: the latest settled), of the tracks the
    account made (fan) or whose voice it owns (creator)."""
    if epoch is None:
        epoch = db.scalar(select(func.max(TrackEarning.epoch)))
    if epoch is None:
        return []
    tracks = db.execute(
        select(Track, VoiceModel.creator_id)
        .join(VoiceModel, VoiceModel.id == Track.voice_model_id)
        .where((Track.fan_id == account.id) | (VoiceModel.creator_id == account.id))
    ).all()
    by_hash = {"0x" + t.content_sha256: (t, creator_id) for t, creator_id in tracks}
    if not by_hash:
        return []
    earnings = db.scalars(
        select(TrackEarning).where(
            TrackEarning.epoch == epoch, TrackEarning.track_hash.in_(list(by_hash))
        )
    )
    plays = dict(
        db.execute(
            select(Play.track_id, func.count()).where(Play.epoch <= epoch).group_by(Play.track_id)
        ).all()
    )
    out = []
    for e in earnings:
        t, creator_id = by_hash[e.track_hash]
        out.append(
            TrackEarningOut(
                track_id=t.id,
                track_onchain_id=e.track_hash,
                title=t.title,
                role="creator" if creator_id == account.id else "fan",
                epoch=e.epoch,
                gross=str(e.gross),
                creator_amount=str(e.creator_amount),
                fan_amount=str(e.fan_amount),
                platform_amount=str(e.platform_amount),
                plays=int(plays.get(t.id, 0)),
            )
        )
    return out


def epoch_out(services: Services, row: Epoch, *, with_report: bool) -> EpochOut:
    url = report = None
    if row.report_sha256:
        url = services.store.signed_url(
            row.report_sha256, expires=timedelta(seconds=services.settings.signed_url_ttl_s)
        )
        if with_report:
            report = json.loads(b"".join(services.store.iter_bytes(row.report_sha256)))
    return EpochOut(
        number=row.number,
        status=row.status,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        merkle_root=row.merkle_root,
        report_sha256=row.report_sha256,
        report_url=url,
        claimed_total=str(row.claimed_total),
        entitled_total=str(row.entitled_total),
        dust_total=str(row.dust_total),
        claim_tx_hash=row.claim_tx_hash,
        root_tx_hash=row.root_tx_hash,
        closed_at=row.closed_at,
        report=report,
    )


def get_epoch(db: Session, number: int) -> Epoch:
    row = db.get(Epoch, number)
    if row is None:
        raise NotFound("No such epoch.", code="epoch_not_found")
    return row


def voice_earnings(db: Session, creator: Account, epoch: int | None) -> list[VoiceEarningOut]:
    """Per voice of ``creator``: its tracks' cumulative gross and creator share as of
    ``epoch`` (default: the latest settled)."""
    per_voice: dict[uuid.UUID, list[int]] = {}
    names: dict[uuid.UUID, str] = {}
    rows = [r for r in track_earnings(db, creator, epoch) if r.role == "creator"]
    for r in rows:
        t = db.get(Track, r.track_id)
        assert t is not None
        vm = db.get(VoiceModel, t.voice_model_id)
        assert vm is not None
        names[vm.id] = vm.name
        acc = per_voice.setdefault(vm.id, [0, 0, 0])
        acc[0] += 1
        acc[1] += int(r.gross)
        acc[2] += int(r.creator_amount)
    return [
        VoiceEarningOut(
            voice_id=vid,
            name=names[vid],
            epoch=rows[0].epoch,
            tracks=n,
            gross=str(g),
            creator_amount=str(c),
        )
        for vid, (n, g, c) in per_voice.items()
    ]


def platform_usage(db: Session, platform: Platform, epoch: int | None) -> list[UsageOut]:
    """The platform's charged plays and amounts per epoch and track."""
    q = (
        select(Play.epoch, Play.track_id, Track.content_sha256, func.count(), func.sum(Play.price))
        .join(Track, Track.id == Play.track_id)
        .where(Play.platform_id == platform.id)
        .group_by(Play.epoch, Play.track_id, Track.content_sha256)
        .order_by(Play.epoch, Play.track_id)
    )
    if epoch is not None:
        q = q.where(Play.epoch == epoch)
    return [
        UsageOut(
            epoch=e,
            track_id=track_id,
            track_onchain_id="0x" + sha,
            plays=int(n),
            amount=str(int(total)),
        )
        for e, track_id, sha, n, total in db.execute(q)
    ]
