"""``timbre settle``: close the oldest closable epoch, resumably.

One run settles at most one epoch (the distributor takes one root per challenge window):

1. relay draft tracks; record payees' on-chain claims (``Claimed`` events) in the ledger; mark
   epochs whose root became claimable ``finalized``;
2. pick the epoch: one left ``closing`` by a run that died, else the oldest epoch with plays
   not yet settled, once it has ended (plus the vouchers' clock skew) on both clocks;
3. record it ``closing`` (committed), then :func:`royalties.settle.settle_epoch`: redeem the
   latest voucher of every channel whose play falls in the epoch, split the redeemed plays with
   the terms in force on-chain, store the report, propose the root. Every on-chain step reads
   the chain first, so a run killed anywhere and started again sends no second claim and no
   second root;
4. in one database transaction: the epoch's root, report and totals, every payee's leaf and
   proof, each track's figures, and the ledger postings (channel claims, entitlements);
5. reconcile the ledger with the chain and report any difference.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from contracts.eip712 import Voucher as SignedVoucher
from royalties.chain import channel_claimed
from royalties.gross import ChargedPlay
from royalties.ledger import (
    ChainView,
    Entry,
    Transaction,
    post_channel_claim,
    post_entitlements,
    post_payee_claim,
    reconcile,
)
from royalties.report import load_report, parse_report
from royalties.settle import EpochSettlement, settle_epoch
from royalties.splits import SplitState, entitlements
from royalties.vouchers import MAX_CLOCK_SKEW_S
from studio.db.models import (
    ChainCursor,
    ChannelMeter,
    Epoch,
    LedgerEntry,
    LedgerTransaction,
    Payout,
    Play,
    Track,
    TrackEarning,
    Voucher,
)
from studio.services import Services
from studio.settlement import ledger
from studio.settlement.chain import SettlementChain, require_chain
from studio.settlement.lock import settlement_lock
from studio.settlement.tracks import relay_pending_tracks

log = logging.getLogger("studio.settlement")

CODE_VERSION = "timbre-studio-settlement/1"
SETTLED = ("proposed", "finalized")
CLAIMS_CURSOR = "distributor.Claimed"


@dataclass
class SettleOutcome:
    """What a run did: ``status`` is settled, nothing_to_do, waiting or failed (set by the
    caller when the run raised)."""

    status: str
    message: str
    epoch: int | None = None
    claim_txs: tuple[str, ...] = ()
    root_tx: str | None = None
    problems: list[str] = field(default_factory=list)


LOCK_WAIT_S = 10.0  # long enough for PostgreSQL to reap a killed run's session


def settle_next(services: Services, lock_wait_s: float = LOCK_WAIT_S) -> SettleOutcome:
    """One settlement run (module docstring). When another run holds the settlement lock
    for ``lock_wait_s`` seconds it returns ``waiting``."""
    with settlement_lock(services.engine, lock_wait_s) as held:
        if not held:
            return SettleOutcome("waiting", "another settlement run is in progress")
        return _settle_next(services)


def _settle_next(services: Services) -> SettleOutcome:
    chain = require_chain(services)
    sender = chain.require_sender()
    relay_pending_tracks(services)
    with services.db() as db:
        sync_payee_claims(db, chain)
        finalize(db, chain)
        db.commit()
        picked = pick_epoch(db, services, chain)
        if isinstance(picked, SettleOutcome):
            picked.problems = reconcile_ledger(db, chain)
            return picked
        epoch = picked
        row = db.get(Epoch, epoch)
        d = chain.deployment
        if row is None:
            row = Epoch(
                number=epoch,
                starts_at=_utc(d.epoch_genesis + epoch * d.epoch_length_s),
                ends_at=_utc(d.epoch_genesis + (epoch + 1) * d.epoch_length_s),
            )
            db.add(row)
        row.status = "closing"
        db.commit()  # a run that dies from here on is resumed on this epoch
        previous = _previous_report(db, services, epoch)
        state = previous.state if previous else SplitState()
        since = dict(previous.channels) if previous else {}
        plays = _plays_after(db, since)
        vouchers = _latest_vouchers(db, epoch)
        channel_ids = {int(c) for c in db.scalars(select(ChannelMeter.channel_id))} | set(since)
        result = settle_epoch(
            w3=chain.w3,
            contracts=chain.contracts,
            sender=sender,
            store=services.store,
            state=state,
            epoch=epoch,
            plays=plays,
            vouchers=vouchers,
            channel_ids=channel_ids,
            previous_leaves=dict(previous.leaves) if previous else None,
            chain=chain.ref,
            code_version=CODE_VERSION,
            since=since if previous else None,
            from_block=d.block_number,
        )
        record_settlement(db, services, chain, row, state, since, result)
        db.commit()
        outcome = SettleOutcome(
            status="settled",
            message=f"epoch {epoch} proposed with root 0x{result.payouts.root.hex()}",
            epoch=epoch,
            claim_txs=tuple("0x" + h.hex() for h in result.claim.tx_hashes),
            root_tx=row.root_tx_hash,
        )
        if result.claim.rejected:
            outcome.problems.extend(
                f"channel {c}: voucher rejected on-chain: {why}"
                for c, why in sorted(result.claim.rejected.items())
            )
        outcome.problems.extend(reconcile_ledger(db, chain))
        return outcome


def _utc(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def chain_time(chain: SettlementChain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def pick_epoch(db: Session, services: Services, chain: SettlementChain) -> int | SettleOutcome:
    """The epoch to settle now, or why there is none."""
    closing = db.scalar(select(Epoch.number).where(Epoch.status == "closing").limit(1))
    if closing is not None:
        return int(closing)
    last = db.scalar(select(func.max(Epoch.number)).where(Epoch.status.in_(SETTLED)))
    q = select(func.min(Play.epoch))
    if last is not None:
        q = q.where(Play.epoch > last)
    first = db.scalar(q)
    if first is None:
        return SettleOutcome("nothing_to_do", "no unsettled plays")
    dist = chain.contracts.distributor.functions
    epoch = max(int(first), int(dist.nextEpoch().call()))
    d = chain.deployment
    ends = d.epoch_genesis + (epoch + 1) * d.epoch_length_s
    now = min(int(services.clock().timestamp()), chain_time(chain))
    if now < ends + MAX_CLOCK_SKEW_S:
        return SettleOutcome(
            "waiting",
            f"epoch {epoch} closes at {_utc(ends + MAX_CLOCK_SKEW_S).isoformat()}",
            epoch=epoch,
        )
    _, pending_epoch, ready_at, _ = dist.pendingRoot().call()
    if int(ready_at) != 0:
        return SettleOutcome(
            "waiting",
            f"the root of epoch {pending_epoch} is in its challenge window until "
            f"{_utc(int(ready_at)).isoformat()}",
            epoch=epoch,
        )
    return epoch


@dataclass(frozen=True)
class _Previous:
    state: SplitState
    channels: Mapping[int, int]
    leaves: Mapping[str, int]


def _previous_report(db: Session, services: Services, epoch: int) -> _Previous | None:
    sha = db.scalar(
        select(Epoch.report_sha256)
        .where(Epoch.status.in_(SETTLED), Epoch.number < epoch)
        .order_by(Epoch.number.desc())
        .limit(1)
    )
    if sha is None:
        return None
    report = load_report(b"".join(services.store.iter_bytes(sha)))
    inputs, _ = parse_report(report.data)
    return _Previous(report.state, inputs.channels, report.payouts.leaves)


def _plays_after(db: Session, since: Mapping[int, int]) -> list[ChargedPlay]:
    """Every play not yet attributed (above each channel's redeemed amount at the previous
    settlement), in seq order per channel."""
    rows = db.execute(
        select(Play.channel_id, Play.seq, Track.content_sha256, Play.price, Play.cumulative)
        .join(Track, Track.id == Play.track_id)
        .join(Voucher, Voucher.id == Play.voucher_id)
        # Vouchers a recorded settlement redeemed are done; a run that died after its claim
        # left them unmarked, and the cumulative filter below drops what they covered.
        .where(Voucher.claimed_epoch.is_(None))
        .order_by(Play.channel_id, Play.seq)
    )
    return [
        ChargedPlay(int(c), seq, bytes.fromhex(h), price, cumulative)
        for c, seq, h, price, cumulative in rows
        if cumulative > since.get(int(c), 0)
    ]


def _latest_vouchers(db: Session, epoch: int) -> list[tuple[SignedVoucher, bytes]]:
    """Each channel's last accepted voucher whose play falls in an epoch up to ``epoch``."""
    latest = (
        select(Play.channel_id, func.max(Play.seq).label("seq"))
        .join(Voucher, Voucher.id == Play.voucher_id)
        .where(Play.epoch <= epoch, Voucher.claimed_epoch.is_(None))
        .group_by(Play.channel_id)
        .subquery()
    )
    rows = db.scalars(
        select(Voucher).join(
            latest, (Voucher.channel_id == latest.c.channel_id) & (Voucher.seq == latest.c.seq)
        )
    )
    return [
        (
            SignedVoucher(
                int(v.channel_id),
                v.cumulative_amount,
                bytes.fromhex(v.usage_root[2:]),
                v.seq,
            ),
            bytes.fromhex(v.signature[2:]),
        )
        for v in rows
    ]


def record_settlement(
    db: Session,
    services: Services,
    chain: SettlementChain,
    row: Epoch,
    before: SplitState,
    since: Mapping[int, int],
    result: EpochSettlement,
) -> None:
    """Persists a settled epoch (idempotent: re-recording adds nothing twice)."""
    epoch = row.number
    inputs, _ = parse_report(result.report_data)
    ent = entitlements(result.state.segments)
    row.status = "proposed"
    row.merkle_root = "0x" + result.payouts.root.hex()
    row.report_sha256 = result.report_sha256.hex()
    row.claimed_total = sum(inputs.channels.values()) - sum(since.values())
    row.entitled_total = result.payouts.total
    row.dust_total = ent.dust_allocated + ent.dust_pending
    row.closed_at = services.clock()
    if result.claim.tx_hashes:
        row.claim_tx_hash = "0x" + result.claim.tx_hashes[0].hex()
    if result.proposal is not None and result.proposal.tx_hash is not None:
        row.root_tx_hash = "0x" + result.proposal.tx_hash.hex()
    elif row.root_tx_hash is None:
        logs = chain.contracts.distributor.events.RootProposed.get_logs(
            from_block=chain.deployment.block_number, argument_filters={"epoch": epoch}
        )
        if logs:
            row.root_tx_hash = logs[-1]["transactionHash"].to_0x_hex()
    db.query(Payout).filter(Payout.epoch == epoch).delete()
    db.query(TrackEarning).filter(TrackEarning.epoch == epoch).delete()
    db.flush()
    for account, amount in result.payouts.leaves.items():
        proof = ["0x" + p.hex() for p in result.payouts.proof(account)]
        db.add(Payout(epoch=epoch, payee_address=account, cumulative_amount=amount, proof=proof))
    figures: dict[bytes, list[int]] = {}
    for s in result.state.segments:
        f = figures.setdefault(s.track_id, [0, 0, 0, 0])
        (_, creator), (_, fan), (_, platform) = s.role_amounts()
        for i, v in enumerate((s.gross, creator, fan, platform)):
            f[i] += v
    for track_id, (gross, creator, fan, platform) in figures.items():
        db.add(
            TrackEarning(
                epoch=epoch,
                track_hash="0x" + track_id.hex(),
                gross=gross,
                creator_amount=creator,
                fan_amount=fan,
                platform_amount=platform,
            )
        )
    for channel_id, claimed in inputs.channels.items():
        delta = claimed - since.get(channel_id, 0)
        if delta > 0:
            ref = f"epoch {epoch} channel {channel_id}"
            ledger.post(db, post_channel_claim(channel_id, delta, ref=ref))
            db.execute(
                update(Voucher)
                .where(
                    Voucher.channel_id == str(channel_id),
                    Voucher.cumulative_amount <= claimed,
                    Voucher.claimed_epoch.is_(None),
                )
                .values(claimed_epoch=epoch)
            )
    ledger.post(db, post_entitlements(before, result.state, ref=f"epoch {epoch}"))


def sync_payee_claims(db: Session, chain: SettlementChain) -> int:
    """Posts every ``Claimed`` event since the last scan as a payee claim; returns how many."""
    cursor = db.get(ChainCursor, CLAIMS_CURSOR)
    start = cursor.next_block if cursor else chain.deployment.block_number
    latest = int(chain.w3.eth.block_number)
    if latest < start:
        return 0
    events = chain.contracts.distributor.events.Claimed.get_logs(from_block=start, to_block=latest)
    posted = 0
    for e in events:
        amount = int(e["args"]["amount"])
        if amount <= 0:
            continue
        ref = f"{e['transactionHash'].to_0x_hex()}:{e['logIndex']}"
        posted += ledger.post(db, post_payee_claim(e["args"]["account"], amount, ref=ref))
    if cursor is None:
        db.add(ChainCursor(name=CLAIMS_CURSOR, next_block=latest + 1))
    else:
        cursor.next_block = latest + 1
    return posted


def finalize(db: Session, chain: SettlementChain) -> None:
    """Marks proposed epochs whose root is claimable (challenge window over) finalized, and
    those the guardian vetoed (the distributor expects them again) vetoed: the next run
    settles a vetoed epoch again, and refuses to re-propose the very same root."""
    dist = chain.contracts.distributor.functions
    vetoed = list(
        db.scalars(
            select(Epoch.number).where(
                Epoch.status == "proposed", Epoch.number >= int(dist.nextEpoch().call())
            )
        )
    )
    if vetoed:
        db.execute(update(Epoch).where(Epoch.number.in_(vetoed)).values(status="vetoed"))
        # Its plays are unsettled again: the epoch is settled anew from the last standing root.
        db.execute(
            update(Voucher).where(Voucher.claimed_epoch.in_(vetoed)).values(claimed_epoch=None)
        )
    root, active_epoch = dist.activeRoot().call()
    if int.from_bytes(bytes(root), "big") == 0:
        return
    db.execute(
        update(Epoch)
        .where(Epoch.status == "proposed", Epoch.number <= int(active_epoch))
        .values(status="finalized")
    )


def reconcile_ledger(db: Session, chain: SettlementChain) -> list[str]:
    """Differences between the SQL ledger and the chain (empty when they agree)."""
    payee_txs = ledger.transactions(db, kinds=["payee_claim"])
    others = db.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerTransaction.kind != "payee_claim")
        .group_by(LedgerEntry.account)
    )
    summary = tuple(Entry(a, int(v)) for a, v in others if int(v) != 0)
    txs = [Transaction("summary", "all", summary), *payee_txs] if summary else payee_txs
    meters = {int(m.channel_id): m.charged for m in db.scalars(select(ChannelMeter))}
    dist = chain.contracts.distributor.functions
    payees: set[str] = set(db.scalars(select(Payout.payee_address).distinct()))
    for tx in payee_txs:
        payees.update(e.account.removeprefix("payee:") for e in tx.entries if e.amount > 0)
    view = ChainView(
        channel_claimed(chain.contracts.escrow, meters),
        {a: int(dist.claimed(a).call()) for a in sorted(payees)},
        int(dist.totalReceived().call()),
        int(dist.totalClaimed().call()),
    )
    problems = reconcile(txs, meters, view)
    for p in problems:
        log.warning("ledger and chain differ: %s", p)
    return problems
