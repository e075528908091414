"""Settlement at volume through the studio: 3 platforms, 5 creators' voices, 50 tracks and
many plays over 3 epochs. The plays are written in bulk — the same rows and ledger postings
``POST /v1/access`` writes, each paid by a real signed cumulative voucher — so the test spends
its time in settlement, not HTTP. Each epoch takes two transactions (claim + root), verifies,
and in the end every payee claims exactly its leaf and the ledger reconciles to the unit."""

from __future__ import annotations

import random
import uuid

from sqlalchemy import insert, select, update

from royalties.ledger import post_play
from royalties.report import load_report
from royalties.verify import verify_epoch
from studio.db.models import (
    ChannelMeter,
    LedgerEntry,
    LedgerTransaction,
    ModelTerms,
    Play,
    Voucher,
)
from studio.db.models import Platform as PlatformRow
from studio.settlement.epochs import settle_next
from tests.studio.test_settlement_world import (
    DEPLOYER,
    FIRST_PLATFORM,
    Platform,
    World,
    node,
    world,
)

__all__ = ["node", "world"]

PLAYS_PER_EPOCH = 3_000


def _bulk_plays(
    w: World, platforms: list[Platform], tracks: list[dict[str, str]], epoch: int, n: int
) -> None:
    rng = random.Random(epoch)
    now = w.services.clock()
    ts = w.now()
    with w.services.db() as db:
        terms = {
            str(t.voice_model_id): (t.id, t.price_per_play) for t in db.scalars(select(ModelTerms))
        }
        owner = {p.channel_id: p.id for p in db.scalars(select(PlatformRow))}
        vouchers, plays, postings = [], [], []
        for k in range(n):
            p = platforms[k % len(platforms)]
            track = tracks[rng.randrange(len(tracks))]
            terms_id, price = terms[track["voice_id"]]
            v, sig = p.meter.pay(bytes.fromhex(track["content_sha256"]), price, ts)
            voucher_id, platform_id = uuid.uuid4(), owner[str(p.channel_id)]
            vouchers.append(
                {
                    "id": voucher_id,
                    "platform_id": platform_id,
                    "channel_id": str(p.channel_id),
                    "seq": v.seq,
                    "cumulative_amount": v.cumulative_amount,
                    "usage_root": "0x" + v.usage_root.hex(),
                    "signature": "0x" + sig.hex(),
                    "received_at": now,
                }
            )
            plays.append(
                {
                    "id": uuid.uuid4(),
                    "track_id": uuid.UUID(track["id"]),
                    "platform_id": platform_id,
                    "voucher_id": voucher_id,
                    "model_terms_id": terms_id,
                    "price": price,
                    "epoch": epoch,
                    "played_at": now,
                    "channel_id": str(p.channel_id),
                    "seq": v.seq,
                    "cumulative": v.cumulative_amount,
                    "timestamp": ts,
                    "usage_index": v.seq - 1,
                }
            )
            ref = f"channel {p.channel_id} seq {v.seq}"
            postings.append(
                post_play(p.channel_id, bytes.fromhex(track["content_sha256"]), price, ref=ref)
            )
        db.execute(insert(Voucher), vouchers)
        db.execute(insert(Play), plays)
        ids = db.scalars(
            insert(LedgerTransaction).returning(LedgerTransaction.id, sort_by_parameter_order=True),
            [{"kind": tx.kind, "ref": tx.ref, "created_at": now} for tx in postings],
        ).all()
        db.execute(
            insert(LedgerEntry),
            [
                {"transaction_id": i, "account": e.account, "amount": e.amount}
                for i, tx in zip(ids, postings, strict=True)
                for e in tx.entries
            ],
        )
        for p in platforms:
            m = p.meter
            values = {
                "last_seq": m.seq,
                "charged": m.cumulative,
                "last_timestamp": ts,
                "usage_size": m.usage.size,
                "usage_peaks": [x.hex() for x in m.usage.peaks],
                "updated_at": now,
            }
            if db.get(ChannelMeter, str(p.channel_id)) is None:
                db.add(
                    ChannelMeter(
                        channel_id=str(p.channel_id), platform_id=owner[str(p.channel_id)], **values
                    )
                )
            else:
                db.execute(
                    update(ChannelMeter)
                    .where(ChannelMeter.channel_id == str(p.channel_id))
                    .values(**values)
                )
        db.commit()


def test_three_epochs_of_bulk_plays_settle_in_two_transactions_each(world: World) -> None:
    w = world
    for i in range(5):
        w.sign_in(f"creator{i}", "creator")
    for i in range(10):
        w.sign_in(f"fan{i}", "fan")
    voices = [
        w.voice(f"creator{i}", price=1000 + 7 * i, shares=(5000 - i, 4000 + i, 1000))
        for i in range(5)
    ]
    tracks = [w.track(f"fan{i % 10}", voices[i % 5], f"t{i}") for i in range(50)]
    platforms = [w.platform(f"p{i}", FIRST_PLATFORM + i, deposit=10**12) for i in range(3)]
    for epoch in range(3):
        _bulk_plays(w, platforms, tracks, epoch, PLAYS_PER_EPOCH)
        w.warp_past_epoch(epoch)
        outcome = settle_next(w.services)
        assert outcome.status == "settled" and outcome.problems == [], outcome
        assert len(outcome.claim_txs) == 1 and outcome.root_tx is not None  # 2 transactions
        assert verify_epoch(w.contracts, w.services.store, epoch).ok
        w.warp_past_window()
    sha = w.client.get("/v1/epochs/2").json()["report_sha256"]
    report = load_report(b"".join(w.services.store.iter_bytes(sha)))
    assert report.entitlements.gross == sum(p.meter.cumulative for p in platforms)
    token = w.contracts.token.functions
    for account, amount in report.payouts.leaves.items():
        held = int(token.balanceOf(account).call())
        fn = w.contracts.distributor.functions.claimFor(
            account, amount, report.payouts.proof(account)
        )
        w.tx(fn, w.dev(DEPLOYER))
        assert int(token.balanceOf(account).call()) - held == amount
    assert int(token.balanceOf(w.deployment.distributor).call()) == report.entitlements.dust_pending
    assert len(report.payouts.leaves) >= 16  # 5 creators, 10 fans, the treasury (+ dust)
    assert settle_next(w.services).problems == []
