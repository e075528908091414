"""The settlement on a real anvil: two platforms stream, two epochs settle (with a terms update
in between), every on-chain step is run twice (resume) without a second payment or root, roots
verify against the chain, and payees' token balances end equal to their entitlements."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contracts.artifacts import bind
from contracts.deploy import deploy_contract
from contracts.eip712 import (
    escrow_domain,
    sign_voucher,
    voucher_digest,
)
from royalties import settle as settle_module
from royalties.chain import (
    TermsReader,
    channel_claimed,
    claim_latest_vouchers,
    erc1271_checker,
    propose_root_once,
)
from royalties.errors import ChainError
from royalties.gross import covered_gross
from royalties.ledger import (
    ChainView,
    post_channel_claim,
    post_entitlements,
    post_payee_claim,
    reconcile,
)
from royalties.payouts import Payouts
from royalties.platform_meter import PlatformMeter
from royalties.report import Report, build_report, parse_report
from royalties.settle import EpochSettlement, settle_epoch
from royalties.splits import SplitState, advance, checksum
from royalties.verify import verify_epoch, verify_report
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher
from storage import LocalObjectStore
from tests.royalties.anvil_world import Net, World

DUST_ADDR = "0x" + "d" * 40


def test_two_epochs_end_to_end_and_resumable(net: Net) -> None:
    deployer, settlement, _, treasury, dust = net.acc[:5]
    reg, escrow, dist, token = net.c.registry, net.c.escrow, net.c.distributor, net.c.token
    world = World(net)
    states, latest, plays, ledger = world.states, world.latest, world.plays, world.ledger
    chain, stream = world.chain, world.stream

    state = SplitState()
    reports: list[Report] = []

    def settle(epoch: int) -> Payouts:
        nonlocal state
        world.end_epoch(epoch)
        before = channel_claimed(escrow, states)
        first = claim_latest_vouchers(net.w3, escrow, settlement.address, list(latest.values()))
        assert first.rejected == {} and len(first.tx_hashes) == 1
        again = claim_latest_vouchers(net.w3, escrow, settlement.address, list(latest.values()))
        assert again.tx_hashes == () and set(again.skipped) == set(states)  # resumed: nothing
        claimed = channel_claimed(escrow, states)
        for c, amount in claimed.items():
            assert first.redeemed[c] == amount - before[c]
            ledger.append(post_channel_claim(c, amount - before[c], ref=f"claim {epoch}/{c}"))
        gross = covered_gross(plays, claimed)
        reader = TermsReader(reg)
        in_force = {t: reader.terms(t, epoch) for t in gross}
        dust_account = reg.functions.dustAccount().call()
        new = advance(state, epoch, gross, in_force, dust_account)
        ledger.append(post_entitlements(state, new, ref=f"epoch {epoch}"))
        state = new
        report = build_report(
            epoch=epoch,
            state=state,
            channels=claimed,
            dust_account=dust_account,
            previous_total=int(dist.functions.totalAllocated().call()),
            previous_leaves=dict(reports[-1].payouts.leaves) if reports else None,
            chain=chain,
            code_version="test",
        )
        done = propose_root_once(net.w3, dist, settlement.address, report.payouts, report.sha256)
        assert done.tx_hash is not None
        resumed = propose_root_once(net.w3, dist, settlement.address, report.payouts, report.sha256)
        assert resumed.tx_hash is None and resumed.ready_at == done.ready_at
        result = verify_report(
            report.data,
            previous=reports[-1].data if reports else None,
            distributor=dist,
            registry=reg,
        )
        assert result.ok, result.difference
        reports.append(report)
        net.warp_to(done.ready_at)
        return report.payouts

    stream(7)
    settle(0)
    # Terms change during epoch 1 take effect in epoch 2 only.
    world.update_terms(0, 6_000, 2_500)
    stream(5)
    settle(1)
    assert all(s.terms.version == 0 for s in state.segments)
    stream(11)
    payouts = settle(2)
    assert {s.terms.version for s in state.segments} == {0, 1}

    # A different root for a settled epoch is refused; the verify button catches tampering.
    forged = Payouts(2, {**payouts.leaves, dust.address: 1}, payouts.previous_total)
    with pytest.raises(ChainError, match="already has root"):
        propose_root_once(net.w3, dist, settlement.address, forged, bytes(32))
    tampered = reports[-1].data.replace(b'"creator_bps":3333', b'"creator_bps":3334', 1)
    tampered = tampered.replace(b'"fan_bps":3333', b'"fan_bps":3332', 1)
    assert not verify_report(tampered, distributor=dist, registry=reg).ok

    # Every payee claims (claimFor) and holds exactly its entitlement.
    for account, amount in payouts.leaves.items():
        before = int(token.functions.balanceOf(account).call())
        proof = payouts.proof(account)
        net.tx(dist.functions.claimFor(account, amount, proof), deployer)
        assert int(token.functions.balanceOf(account).call()) - before == amount
        ledger.append(post_payee_claim(account, amount, ref=f"claim {account}"))
    assert checksum(treasury.address) in payouts.leaves
    ent = reports[-1].entitlements
    held = int(token.functions.balanceOf(net.d.distributor).call())
    assert held == ent.dust_pending  # only the open segments' remainders stay behind
    view = ChainView(
        channel_claimed(escrow, states),
        {a: int(dist.functions.claimed(a).call()) for a in payouts.leaves},
        int(dist.functions.totalReceived().call()),
        int(dist.functions.totalClaimed().call()),
    )
    charged = {c: s.charged for c, s in states.items()}
    assert reconcile(ledger, charged, view) == []


def test_settle_epoch_resumes_after_a_crash_at_every_step(
    net: Net, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settlement = net.acc[1].address
    world = World(net)
    store = LocalObjectStore(tmp_path, url_secret=b"s" * 32, base_url="http://test")
    kwargs: dict[str, Any] = {
        "w3": net.w3,
        "contracts": net.c,
        "sender": settlement,
        "store": store,
        "channel_ids": list(world.states),
        "chain": world.chain,
        "code_version": "test",
        "from_block": net.d.block_number,
    }

    def settle(epoch: int, state: SplitState, previous: EpochSettlement | None) -> EpochSettlement:
        # Incremental: only the plays after what the previous report attributed.
        done = dict(parse_report(previous.report_data)[0].channels) if previous else {}
        return settle_epoch(
            state=state,
            epoch=epoch,
            plays=[p for p in world.plays if p.cumulative > done.get(p.channel_id, 0)],
            vouchers=list(world.latest.values()),
            previous_leaves=dict(previous.payouts.leaves) if previous else None,
            since=done if previous else None,
            **kwargs,
        )

    # Epoch 0: killed right after the vouchers were redeemed.
    world.stream(6)
    world.end_epoch(0)
    claim_latest_vouchers(net.w3, net.c.escrow, settlement, list(world.latest.values()))
    first = settle(0, SplitState(), None)
    assert first.claim.tx_hashes == ()  # nothing redeemed twice
    assert first.proposal is not None and first.proposal.tx_hash is not None
    assert store.exists(first.report_sha256.hex())
    # Killed after proposing, before the studio saved the new state: run again from scratch.
    again = settle(0, SplitState(), None)
    assert again.proposal is None and again.claim.tx_hashes == ()
    assert (again.report_data, again.state, again.payouts.root) == (
        first.report_data,
        first.state,
        first.payouts.root,
    )

    # Epoch 1: killed between storing the report and proposing the root.
    world.stream(5)
    world.end_epoch(1)

    def killed(*args: object, **kw: object) -> None:
        raise RuntimeError("SIGKILL")

    monkeypatch.setattr(settle_module, "propose_root_once", killed)
    with pytest.raises(RuntimeError, match="SIGKILL"):
        settle(1, first.state, first)
    monkeypatch.undo()
    stored = {p.name for p in tmp_path.rglob("*") if p.is_file()}
    second = settle(1, first.state, first)
    assert second.proposal is not None and second.proposal.tx_hash is not None
    assert {p.name for p in tmp_path.rglob("*") if p.is_file()} == stored  # same report
    proposals = net.c.distributor.events.RootProposed.get_logs(from_block=net.d.block_number)
    assert [int(e["args"]["epoch"]) for e in proposals] == [0, 1]
    assert int(net.c.distributor.functions.totalAllocated().call()) == second.payouts.total
    result = verify_report(
        second.report_data,
        expected_sha256=second.report_sha256,
        previous=first.report_data,
        distributor=net.c.distributor,
        registry=net.c.registry,
    )
    assert result.ok, result.difference
    for epoch in (0, 1):
        assert verify_epoch(net.c, store, epoch, from_block=net.d.block_number).ok
    missing = verify_epoch(net.c, store, 7, from_block=net.d.block_number).difference
    assert missing is not None and missing.where == "onchain.RootProposed"
    empty = LocalObjectStore(tmp_path / "empty", url_secret=b"s" * 32, base_url="http://test")
    lost = verify_epoch(net.c, empty, 1, from_block=net.d.block_number).difference
    assert lost is not None and lost.where == "storage"


def test_propose_root_once_after_a_veto_and_on_stale_totals(net: Net) -> None:
    settlement = net.acc[1].address
    dist = net.c.distributor
    world = World(net)
    world.stream(4)
    world.end_epoch(0)
    claim_latest_vouchers(net.w3, net.c.escrow, settlement, list(world.latest.values()))
    claimed = channel_claimed(net.c.escrow, world.states)
    gross = covered_gross(world.plays, claimed)
    reader = TermsReader(net.c.registry)
    state = advance(SplitState(), 0, gross, {t: reader.terms(t, 0) for t in gross}, DUST_ADDR)
    report = build_report(
        epoch=0,
        state=state,
        channels=claimed,
        dust_account=DUST_ADDR,
        previous_total=0,
        chain=world.chain,
        code_version="test",
    )
    stale = Payouts(0, report.payouts.leaves, previous_total=1)
    with pytest.raises(ChainError, match="assume 1 allocated"):
        propose_root_once(net.w3, dist, settlement, stale, report.sha256)
    assert propose_root_once(net.w3, dist, settlement, report.payouts, report.sha256).tx_hash
    net.tx(dist.functions.veto(0), net.acc[2])
    with pytest.raises(ChainError, match="vetoed"):
        propose_root_once(net.w3, dist, settlement, report.payouts, report.sha256)
    # A corrected root (here: one more unit to the dust account) may be proposed again.
    fixed = Payouts(0, {**report.payouts.leaves, checksum(DUST_ADDR): 1}, previous_total=0)
    assert propose_root_once(net.w3, dist, settlement, fixed, bytes(32)).tx_hash
    # A self-consistent report whose terms are not the registry's is caught by verify.
    forged_terms = {t: replace(reader.terms(t, 0), fan=checksum(DUST_ADDR)) for t in gross}
    forged_state = advance(SplitState(), 0, gross, forged_terms, DUST_ADDR)
    forged = build_report(
        epoch=0,
        state=forged_state,
        channels=claimed,
        dust_account=DUST_ADDR,
        previous_total=0,
        chain=world.chain,
        code_version="test",
    )
    assert verify_report(forged.data).ok
    diff = verify_report(forged.data, registry=net.c.registry).difference
    assert diff is not None and diff.where.endswith(".terms")


def test_erc1271_checker_follows_the_wallet_and_caps_its_gas(net: Net) -> None:
    deployer, platform, stranger = net.acc[0], net.acc[7], net.acc[8]
    wallet_address = deploy_contract(net.w3, deployer.address, "MaliciousWallet", platform.address)
    wallet = bind(net.w3, "MaliciousWallet", wallet_address)
    check = erc1271_checker(net.w3)
    edomain = escrow_domain(net.d.chain_id, net.d.escrow)
    meter = PlatformMeter(1, bytes(platform.key), edomain)
    voucher, sig = meter.pay(b"\xa1" * 32, 5, net.now())
    digest = voucher_digest(edomain, voucher)
    other = sign_voucher(bytes(stranger.key), edomain, voucher)
    assert check(wallet_address, digest, sig)
    assert not check(wallet_address, digest, other)
    assert not check(platform.address, digest, sig)  # an EOA answers nothing
    state = ChannelState(1, wallet_address, balance=100, signer_is_contract=True)
    play = Play(b"\xa1" * 32, 5, meter.records[0].timestamp)
    result = accept_voucher(state, play, voucher, sig, edomain, now=play.timestamp, erc1271=check)
    assert isinstance(result, Accepted)
    for mode in (2, 4):  # AlwaysInvalid, BurnGas
        net.tx(wallet.functions.setMode(mode), deployer)
        assert not check(wallet_address, digest, sig)
