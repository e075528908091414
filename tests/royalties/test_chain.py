"""The settlement on a real anvil: two platforms stream, two epochs settle (with a terms update
in between), every on-chain step is run twice (resume) without a second payment or root, roots
verify against the chain, and payees' token balances end equal to their entitlements."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import Contracts, Deployment, connect, deploy_all
from contracts.eip712 import (
    ModelTerms,
    Voucher,
    escrow_domain,
    registry_domain,
    sign_model_terms,
)
from contracts.transact import transact
from royalties.chain import (
    channel_claimed,
    claim_latest_vouchers,
    propose_root_once,
    terms_in_force,
)
from royalties.errors import ChainError
from royalties.gross import ChargedPlay, covered_gross
from royalties.ledger import (
    ChainView,
    Transaction,
    post_channel_claim,
    post_entitlements,
    post_payee_claim,
    post_play,
    reconcile,
)
from royalties.payouts import Payouts
from royalties.platform_meter import PlatformMeter
from royalties.report import ChainRef, Report, build_report
from royalties.splits import SplitState, advance, checksum
from royalties.verify import verify_report
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher

EPOCH_S = 3_600
WINDOW_S = 600


@dataclass
class Net:
    node: AnvilNode
    w3: Web3
    d: Deployment
    c: Contracts
    acc: list[LocalAccount]

    def tx(self, fn: object, sender: LocalAccount) -> None:
        transact(self.w3, fn, sender.address)  # type: ignore[arg-type]

    def now(self) -> int:
        return self.node.latest_timestamp()

    def warp_to(self, timestamp: int) -> None:
        self.node.mine(timestamp=timestamp)


@pytest.fixture(scope="module")
def net() -> Iterator[Net]:
    with AnvilNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        acc = node.dev_accounts
        d = deploy_all(
            w3,
            acc[0].address,
            settlement=acc[1].address,
            guardian=acc[2].address,
            treasury=acc[3].address,
            dust=acc[4].address,
            epoch_length_s=EPOCH_S,
            challenge_window_s=WINDOW_S,
            withdrawal_delay_s=86_400,
            dev_token=True,
        )
        yield Net(node, w3, d, connect(w3, d), acc)


def model_terms(net: Net, creator: LocalAccount, creator_bps: int, fan_bps: int) -> ModelTerms:
    return ModelTerms(
        creator=creator.address,
        payout=creator.address,
        artifact_hash=b"\x11" * 32,
        metadata_uri="ipfs://card",
        creator_bps=creator_bps,
        fan_bps=fan_bps,
        platform_bps=10_000 - creator_bps - fan_bps,
        price_per_play=3_001,
        approval_required=False,
        nonce=int(net.c.registry.functions.nonces(creator.address).call()),
        deadline=net.now() + 3_600,
    )


def test_two_epochs_end_to_end_and_resumable(net: Net) -> None:
    deployer, settlement, _, treasury, dust, creator, fan, p1, p2, fan2 = net.acc
    reg, escrow, dist, token = net.c.registry, net.c.escrow, net.c.distributor, net.c.token
    rdomain = registry_domain(net.d.chain_id, net.d.registry)
    edomain = escrow_domain(net.d.chain_id, net.d.escrow)
    chain = ChainRef(net.d.chain_id, net.d.registry, net.d.escrow, net.d.distributor)

    # A model (33.33 / 33.33 / 33.34: remainders happen) and two fan tracks.
    terms = model_terms(net, creator, 3_333, 3_333)
    sig = sign_model_terms(bytes(creator.key), rdomain, terms)
    net.tx(reg.functions.registerModel(terms.as_tuple(), sig, b""), deployer)
    model_id = bytes(reg.functions.modelIdOf(creator.address, terms.artifact_hash).call())
    tracks = {b"\xa1" * 32: fan, b"\xa2" * 32: fan2}
    for track_id, who in tracks.items():
        net.tx(reg.functions.registerTrack(model_id, track_id, who.address, 0, b""), settlement)

    # Two platforms open and fund channels.
    states: dict[int, ChannelState] = {}
    meters: dict[int, PlatformMeter] = {}
    for platform in (p1, p2):
        net.tx(escrow.functions.openChannel(net.d.token, platform.address), platform)
        channel_id = int(escrow.functions.channelCount().call())
        net.tx(token.functions.faucet(platform.address, 10**9), platform)
        net.tx(token.functions.approve(net.d.escrow, 10**9), platform)
        net.tx(escrow.functions.deposit(channel_id, 10**9), platform)
        states[channel_id] = ChannelState(channel_id, platform.address, balance=10**9)
        meters[channel_id] = PlatformMeter(channel_id, bytes(platform.key), edomain)

    plays: list[ChargedPlay] = []
    ledger: list[Transaction] = []
    latest: dict[int, tuple[Voucher, bytes]] = {}

    def stream(n: int) -> None:
        now = net.now()
        for i in range(n):
            channel_id = 1 + i % 2
            track_id = list(tracks)[i % 3 % 2]
            voucher, vsig = meters[channel_id].pay(track_id, terms.price_per_play, now)
            play = Play(track_id, terms.price_per_play, now)
            result = accept_voucher(states[channel_id], play, voucher, vsig, edomain, now=now)
            assert isinstance(result, Accepted), result
            states[channel_id] = result.state
            latest[channel_id] = (voucher, vsig)
            cumulative = voucher.cumulative_amount
            plays.append(ChargedPlay(channel_id, voucher.seq, track_id, play.price, cumulative))
            ledger.append(post_play(channel_id, track_id, play.price, ref=f"{channel_id}/{i}"))

    state = SplitState()
    reports: list[Report] = []

    def settle(epoch: int) -> Payouts:
        nonlocal state
        net.warp_to(net.d.epoch_genesis + (epoch + 1) * EPOCH_S + 1)
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
        in_force = {t: terms_in_force(reg, t, epoch) for t in gross}
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
    update = model_terms(net, creator, 6_000, 2_500)
    usig = sign_model_terms(bytes(creator.key), rdomain, update)
    net.tx(reg.functions.updateTerms(update.as_tuple(), usig, b""), deployer)
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
