"""Three platforms, five creators' voices, ten fans' tracks, three epochs with a terms update in
between, through the API and ``settle``: terms apply from the next epoch only, every payee's
cumulative leaf only grows, each epoch verifies from its published report, every payee claims
and ends holding exactly its leaf, and the ledger reconciles with the chain to the unit."""

from __future__ import annotations

import itertools
import random
import time

from sqlalchemy import select

from royalties.report import load_report
from royalties.verify import verify_epoch
from studio.db.models import ChainCursor, Payout, Play
from studio.settlement.epochs import CLAIMS_CURSOR, settle_next
from studio.settlement.schedule import start_schedule
from tests.studio.test_settlement_world import DEPLOYER, FIRST_PLATFORM, World, node, world

__all__ = ["node", "world"]

PLAYS_PER_EPOCH = 60


def test_three_epochs_of_many_payees_settle_to_the_unit(world: World) -> None:
    w = world
    rng = random.Random(6)
    creators = [f"creator{i}" for i in range(5)]
    fans = [f"fan{i}" for i in range(4)]
    for c in creators:
        w.sign_in(c, "creator")
    for f in fans:
        w.sign_in(f, "fan")
    prices = [1000 + 337 * i for i in range(5)]
    voices = [
        w.voice(c, price=p, shares=(5000 - 7 * i, 4000 + 7 * i, 1000))
        for i, (c, p) in enumerate(zip(creators, prices, strict=True))
    ]
    tracks = [w.track(fans[i % 4], voices[i % 5], f"track {i}") for i in range(10)]
    price_of = {t["id"]: prices[i % 5] for i, t in enumerate(tracks)}
    platforms = [w.platform(f"p{i}", FIRST_PLATFORM + i, deposit=10_000_000) for i in range(3)]

    leaves_by_epoch: list[dict[str, int]] = []
    for epoch in range(3):
        if epoch == 1:
            # creator0 re-prices and re-splits during epoch 1: in force from epoch 2 only.
            voice = w.client.get(f"/v1/voices/{voices[0]}").json()
            t = w.sign_terms(
                creators[0],
                voices[0],
                voice["artifact_sha256"],
                price=9999,
                shares=(2500, 7000, 500),
            )
            assert t["effective_epoch"] == 2
        for _ in range(PLAYS_PER_EPOCH):
            track = rng.choice(tracks)
            price = 9999 if epoch == 2 and track in tracks[::5] else price_of[track["id"]]
            out = w.play(rng.choice(platforms), track, price)
            assert out["price"] == str(price) and out["epoch"] == epoch
        w.warp_past_epoch(epoch)
        outcome = settle_next(w.services)
        assert outcome.status == "settled" and outcome.epoch == epoch, outcome
        assert outcome.problems == []
        assert verify_epoch(w.contracts, w.services.store, epoch).ok
        with w.services.db() as db:
            leaves_by_epoch.append(
                {
                    p.payee_address: p.cumulative_amount
                    for p in db.scalars(select(Payout).where(Payout.epoch == epoch))
                }
            )
        w.warp_past_window()

    for before, after in itertools.pairwise(leaves_by_epoch):
        assert all(after.get(a, 0) >= v for a, v in before.items())  # monotone

    sha = w.client.get("/v1/epochs/2").json()["report_sha256"]
    report = load_report(b"".join(w.services.store.iter_bytes(sha)))
    creator0_segments = [
        s for s in report.state.segments if bytes.fromhex(tracks[0]["content_sha256"]) == s.track_id
    ]
    assert sorted((s.start_epoch, s.terms.version, s.terms.fan_bps) for s in creator0_segments) == [
        (0, 0, 4000),
        (2, 1, 7000),
    ]
    with w.services.db() as db:
        charged = sum(p.price for p in db.scalars(select(Play)))
    assert report.entitlements.gross == charged
    assert report.payouts.total + report.entitlements.dust_pending == charged

    # Every payee claims; each ends with exactly its leaf; only pending dust stays behind.
    token = w.contracts.token.functions
    for account, amount in report.payouts.leaves.items():
        held = int(token.balanceOf(account).call())
        fn = w.contracts.distributor.functions.claimFor(
            account, amount, report.payouts.proof(account)
        )
        w.tx(fn, w.dev(DEPLOYER))
        assert int(token.balanceOf(account).call()) - held == amount
    assert int(token.balanceOf(w.deployment.distributor).call()) == report.entitlements.dust_pending
    assert settle_next(w.services).problems == []


def test_the_schedule_runs_settlement_passes(world: World) -> None:
    thread, stop = start_schedule(world.services.settings, 0.05)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with world.services.db() as db:
                if db.get(ChainCursor, CLAIMS_CURSOR) is not None:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("no settlement pass ran")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
