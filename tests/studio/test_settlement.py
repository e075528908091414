"""The whole money flow through the studio on a real anvil: creator terms -> fan tracks ->
platform vouchers through ``POST /v1/access`` -> ``settle`` -> payees claim the exact amounts
on-chain; the ledger reconciles with the chain; ``timbre verify`` matches and catches a
tampered report; settlement resumes after a crash without a second claim or root."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

import royalties.settle
from royalties.report import load_report
from royalties.splits import checksum
from royalties.verify import verify_epoch, verify_report
from studio import cli
from studio.db.models import Epoch, LedgerEntry, Play
from studio.settlement import epochs as epochs_module
from studio.settlement.epochs import settle_next
from studio.settlement.lock import settlement_lock
from studio.settlement.schedule import settle_pass
from tests.studio.test_settlement_world import (
    DEPLOYER,
    DUST,
    FIRST_PLATFORM,
    GUARDIAN,
    TREASURY,
    World,
    node,
    world,
)

__all__ = ["node", "world"]


def _redeemed_events(w: World) -> Counter[int]:
    logs = w.contracts.escrow.events.VoucherRedeemed.get_logs(from_block=w.deployment.block_number)
    return Counter(int(e["args"]["channelId"]) for e in logs)


def _root_proposals(w: World) -> Counter[int]:
    logs = w.contracts.distributor.events.RootProposed.get_logs(
        from_block=w.deployment.block_number
    )
    return Counter(int(e["args"]["epoch"]) for e in logs)


def test_money_flows_end_to_end_to_the_unit(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    w = world
    w.sign_in("creator_a", "creator")
    w.sign_in("creator_b", "creator")
    w.sign_in("fan_x", "fan")
    w.sign_in("fan_y", "fan")
    voice_a = w.voice("creator_a", price=3000)
    voice_b = w.voice("creator_b", price=1001, shares=(3333, 3333, 3334))
    tracks = [
        w.track("fan_x", voice_a, "x on a"),
        w.track("fan_y", voice_a, "y on a"),
        w.track("fan_x", voice_b, "x on b"),
    ]
    assert all(t["status"] == "published" for t in tracks)
    public = {t["id"] for t in w.client.get("/v1/tracks").json()}
    assert public == {t["id"] for t in tracks}
    prices = {tracks[0]["id"]: 3000, tracks[1]["id"]: 3000, tracks[2]["id"]: 1001}
    p1 = w.platform("platform_1", FIRST_PLATFORM, deposit=1_000_000)
    p2 = w.platform("platform_2", FIRST_PLATFORM + 1, deposit=1_000_000)

    # Epoch 0: both platforms stream.
    plan = [(p1, 0), (p1, 2), (p2, 1), (p1, 0), (p2, 2), (p2, 2), (p1, 1)]
    for p, i in plan:
        out = w.play(p, tracks[i], prices[tracks[i]["id"]])
        assert out["stream_url"] and out["epoch"] == 0
    view = w.client.get("/v1/channels/mine", headers=p1.headers).json()
    assert view["charged"] == str(3000 + 1001 + 3000 + 3000)
    assert view["pending_liability"] == view["charged"]
    assert int(view["available"]) == 1_000_000 - int(view["charged"])

    # Too early: the epoch has not ended.
    assert settle_next(w.services).status == "waiting"

    # Crash between claim and propose: the resumed run claims nothing twice.
    w.warp_past_epoch(0)
    real_propose = royalties.settle.propose_root_once

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("killed between claim and propose")

    monkeypatch.setattr(royalties.settle, "propose_root_once", killed)
    with pytest.raises(RuntimeError, match="killed"):
        settle_next(w.services)
    assert _redeemed_events(w) == {p1.channel_id: 1, p2.channel_id: 1}
    assert _root_proposals(w) == {}
    with w.services.db() as db:
        assert db.get(Epoch, 0).status == "closing"  # type: ignore[union-attr]
    monkeypatch.setattr(royalties.settle, "propose_root_once", real_propose)
    outcome = settle_next(w.services)
    assert outcome.status == "settled" and outcome.epoch == 0, outcome
    assert outcome.claim_txs == () and outcome.root_tx is not None
    assert outcome.problems == []
    assert _redeemed_events(w) == {p1.channel_id: 1, p2.channel_id: 1}
    assert _root_proposals(w) == {0: 1}

    # Epoch 1: more plays; creator_b changes terms (apply from epoch 2 only).
    w.warp_past_window()
    w.play(p1, tracks[2], 1001)
    w.play(p2, tracks[0], 3000)
    w.play(p2, tracks[1], 3000)

    # Crash after the root is proposed, before the studio recorded it.
    w.warp_past_epoch(1)
    real_record = epochs_module.record_settlement

    def killed_after_propose(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("killed after propose")

    monkeypatch.setattr(epochs_module, "record_settlement", killed_after_propose)
    with pytest.raises(RuntimeError, match="after propose"):
        settle_next(w.services)
    monkeypatch.setattr(epochs_module, "record_settlement", real_record)
    outcome = settle_next(w.services)
    assert outcome.status == "settled" and outcome.epoch == 1 and outcome.problems == []
    assert _root_proposals(w) == {0: 1, 1: 1}
    assert _redeemed_events(w) == {p1.channel_id: 2, p2.channel_id: 2}
    assert settle_next(w.services).status in ("waiting", "nothing_to_do")

    # The epoch views and the published report.
    epoch1 = w.client.get("/v1/epochs/1").json()
    assert epoch1["status"] == "proposed" and epoch1["merkle_root"] and epoch1["root_tx_hash"]
    report = load_report(b"".join(w.services.store.iter_bytes(epoch1["report_sha256"])))
    charged = sum(
        int(w.client.get("/v1/channels/mine", headers=p.headers).json()["charged"])
        for p in (p1, p2)
    )
    ent = report.entitlements
    assert ent.gross == charged  # every charged unit was claimed and attributed
    assert sum(report.payouts.leaves.values()) + ent.dust_pending == charged  # conservation

    # verify: the CLI matches both epochs, and a tampered report is caught.
    monkeypatch.setattr(cli, "_settings_or_exit", lambda: w.services.settings)
    runner = CliRunner()
    for n in (0, 1):
        r = runner.invoke(cli.app, ["verify", "--epoch", str(n)])
        assert r.exit_code == 0 and "match" in r.output, r.output
        assert verify_epoch(w.contracts, w.services.store, n).ok
    tampered = report.data.replace(b'"fan_bps":3333', b'"fan_bps":3332', 1).replace(
        b'"platform_bps":3334', b'"platform_bps":3335', 1
    )
    assert tampered != report.data
    stored = list(w.services.settings.resolved_objects_dir.rglob(epoch1["report_sha256"]))
    if w.services.settings.object_store == "local":
        # Tamper with the published bytes themselves: verify says where it differs.
        assert stored
        original = stored[0].read_bytes()
        stored[0].chmod(0o644)
        stored[0].write_bytes(tampered)
        r = runner.invoke(cli.app, ["verify", "--epoch", "1"])
        assert r.exit_code == 1 and "MISMATCH at sha256" in r.output, r.output
        stored[0].write_bytes(original)
    bad = verify_report(
        tampered, distributor=w.contracts.distributor, registry=w.contracts.registry
    )
    assert not bad.ok and bad.difference is not None

    # Payees claim after the challenge window: the creator through the service (claimFor),
    # the others on-chain themselves; each receives exactly its leaf.
    w.warp_past_window()
    token = w.contracts.token.functions
    me = w.client.get("/v1/payouts/me", headers=w.headers["creator_a"]).json()
    assert me["root_active"] and me["epoch"] == 1
    assert (
        int(me["cumulative_amount"])
        == report.payouts.leaves[checksum(w.wallets["creator_a"].address)]
    )
    before = int(token.balanceOf(w.wallets["creator_a"].address).call())
    r = w.client.post("/v1/payouts/me/claim", headers=w.headers["creator_a"])
    assert r.status_code == 200, r.text
    assert int(token.balanceOf(w.wallets["creator_a"].address).call()) - before == int(
        me["cumulative_amount"]
    )
    for account, amount in report.payouts.leaves.items():
        if account == checksum(w.wallets["creator_a"].address):
            continue
        held = int(token.balanceOf(account).call())
        p = (
            w.client.get("/v1/payouts/me", headers=w.headers[name]).json()
            if (
                name := next(
                    (n for n, x in w.wallets.items() if checksum(x.address) == account), None
                )
            )
            else None
        )
        proof = [bytes.fromhex(x[2:]) for x in p["proof"]] if p else report.payouts.proof(account)
        w.tx(w.contracts.distributor.functions.claimFor(account, amount, proof), w.dev(DEPLOYER))
        assert int(token.balanceOf(account).call()) - held == amount
    assert checksum(w.dev(TREASURY).address) in report.payouts.leaves
    distributor_left = int(token.balanceOf(w.deployment.distributor).call())
    assert distributor_left == ent.dust_pending  # Σ payouts + dust == Σ claimed
    assert checksum(w.dev(DUST).address) in report.payouts.leaves or ent.dust_allocated == 0

    # Earnings views.
    fan_tracks = w.client.get("/v1/payouts/me/tracks", headers=w.headers["fan_x"]).json()
    assert {t["track_id"] for t in fan_tracks} == {tracks[0]["id"], tracks[2]["id"]}
    assert all(t["role"] == "fan" for t in fan_tracks)
    plays_x0 = next(t for t in fan_tracks if t["track_id"] == tracks[0]["id"])
    assert plays_x0["plays"] == 3 and plays_x0["gross"] == str(3 * 3000)
    assert plays_x0["fan_amount"] == str(3 * 3000 * 4000 // 10_000)
    voices = w.client.get("/v1/payouts/me/voices", headers=w.headers["creator_a"]).json()
    assert [(v["voice_id"], v["tracks"]) for v in voices] == [(voice_a, 2)]
    assert int(voices[0]["creator_amount"]) == sum(
        int(t["creator_amount"])
        for t in w.client.get("/v1/payouts/me/tracks", headers=w.headers["creator_a"]).json()
    )
    usage = w.client.get("/v1/access/usage", headers={"X-API-Key": p1.api_key}).json()
    assert sum(u["plays"] for u in usage) == 4 + 1  # epoch 0: four plays, epoch 1: one
    assert sum(int(u["amount"]) for u in usage) == 3 * 3000 + 2 * 1001
    assert {u["epoch"] for u in usage} == {0, 1}
    history = w.client.get("/v1/payouts/me/epochs", headers=w.headers["fan_x"]).json()
    assert [h["epoch"] for h in history] == [0, 1]
    assert int(history[0]["increment"]) + int(history[1]["increment"]) == int(
        history[1]["cumulative_amount"]
    )

    # The next pass records the claims and the ledger reconciles with the chain to the unit.
    outcome = settle_next(w.services)
    assert outcome.problems == [], outcome.problems
    with w.services.db() as db:
        assert db.scalar(select(func.sum(LedgerEntry.amount))) == 0  # double entry balances
        assert db.scalar(select(func.count()).select_from(Play)) == len(plan) + 3


def test_settle_command_and_views_with_nothing_to_settle(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_settings_or_exit", lambda: world.services.settings)
    r = CliRunner().invoke(cli.app, ["settle"])
    assert r.exit_code == 0 and "nothing_to_do" in r.output, r.output
    assert world.client.get("/v1/epochs").json() == []
    assert world.client.get("/v1/epochs/0").status_code == 404
    h = world.sign_in("nobody", "fan")
    me = world.client.get("/v1/payouts/me", headers=h).json()
    assert me["cumulative_amount"] == "0" and me["proof"] == [] and not me["root_active"]
    r = CliRunner().invoke(cli.app, ["verify", "--epoch", "0"])
    assert r.exit_code == 1 and "MISMATCH" in r.output


def test_a_vetoed_root_is_never_proposed_again_unchanged(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    track = w.track("fan", w.voice("creator"))
    p = w.platform("platform", FIRST_PLATFORM, deposit=100_000)
    w.play(p, track, 3000)
    w.warp_past_epoch(0)
    assert settle_next(w.services).status == "settled"
    w.tx(w.contracts.distributor.functions.veto(0), w.dev(GUARDIAN))
    lines: list[str] = []
    assert not settle_pass(w.services, echo=lines.append)
    assert any("vetoed" in line for line in lines), lines
    assert _root_proposals(w) == {0: 1} and _redeemed_events(w) == {p.channel_id: 1}
    with w.services.db() as db:
        assert db.get(Epoch, 0).status == "closing"  # type: ignore[union-attr]
    me = w.client.get("/v1/payouts/me", headers=w.headers["fan"]).json()
    assert not me["root_active"] and me["claimable"] == "0"


def test_one_settlement_run_at_a_time(world: World) -> None:
    with settlement_lock(world.services.engine) as held:
        assert held
        # e.g. `timbre settle` while the schedule runs: it waits its bounded time, then says so
        outcome = settle_next(world.services, lock_wait_s=0.5)
        assert (outcome.status, outcome.message) == (
            "waiting",
            "another settlement run is in progress",
        )
    assert settle_next(world.services).status == "nothing_to_do"
