"""The issue-6 flow at test scale on anvil: 3 platforms, 5 creators' models with 10 fan tracks
each, plays over 3 epochs with a terms update, ``settle_epoch`` per epoch (incremental),
``verify_epoch`` per epoch, every payee claims after each challenge window, and in the end
on-chain balances equal the entitlements and the ledger reconciles with the chain."""

from __future__ import annotations

from pathlib import Path

from royalties.chain import channel_claimed
from royalties.ledger import (
    ChainView,
    post_channel_claim,
    post_entitlements,
    post_payee_claim,
    reconcile,
)
from royalties.report import parse_report
from royalties.settle import EpochSettlement, settle_epoch
from royalties.splits import SplitState
from royalties.verify import verify_epoch
from storage import LocalObjectStore
from tests.royalties.anvil_world import Net, World

PLAYS_PER_EPOCH = 600


def test_three_epochs_many_payees(net: Net, tmp_path: Path) -> None:
    deployer, settlement = net.acc[0], net.acc[1].address
    escrow, dist, token = net.c.escrow, net.c.distributor, net.c.token
    world = World(net, creators=5, tracks_per_creator=10, platforms=3)
    store = LocalObjectStore(tmp_path, url_secret=b"s" * 32, base_url="http://test")
    state = SplitState()
    last: EpochSettlement | None = None
    paid: dict[str, int] = {}
    for epoch in range(3):
        world.stream(PLAYS_PER_EPOCH)
        if epoch == 1:
            world.update_terms(2, 7_000, 2_000)  # in force from epoch 2
        world.end_epoch(epoch)
        since = dict(parse_report(last.report_data)[0].channels) if last else None
        before = channel_claimed(escrow, world.states)
        done = settle_epoch(
            w3=net.w3,
            contracts=net.c,
            sender=settlement,
            store=store,
            state=state,
            epoch=epoch,
            plays=[p for p in world.plays if p.cumulative > (since or {}).get(p.channel_id, 0)],
            vouchers=list(world.latest.values()),
            channel_ids=list(world.states),
            previous_leaves=dict(last.payouts.leaves) if last else None,
            chain=world.chain,
            code_version="e2e",
            since=since,
            from_block=net.d.block_number,
        )
        assert len(done.claim.tx_hashes) == 1 and done.proposal is not None
        for c, amount in channel_claimed(escrow, world.states).items():
            world.ledger.append(post_channel_claim(c, amount - before[c], ref=f"{epoch}/{c}"))
        world.ledger.append(post_entitlements(state, done.state, ref=f"epoch {epoch}"))
        state, last = done.state, done
        assert verify_epoch(net.c, store, epoch, from_block=net.d.block_number).ok
        assert len(done.payouts.leaves) >= 5 + 50 + 1  # creators, fans, treasury (+ dust)
        # After the challenge window every payee claims what is new for it.
        net.warp_to(done.proposal.ready_at)
        for account, cumulative in done.payouts.leaves.items():
            owed = cumulative - paid.get(account, 0)
            if owed:
                net.tx(
                    dist.functions.claimFor(account, cumulative, done.payouts.proof(account)),
                    deployer,
                )
                world.ledger.append(post_payee_claim(account, owed, ref=f"{epoch}/{account}"))
                paid[account] = cumulative

    assert last is not None
    assert {s.terms.version for s in state.segments} == {0, 1}
    for account, cumulative in last.payouts.leaves.items():
        assert int(token.functions.balanceOf(account).call()) == cumulative
    pending = parse_report(last.report_data)[0]
    assert int(token.functions.balanceOf(net.d.distributor).call()) == (
        sum(pending.channels.values()) - last.payouts.total
    )
    view = ChainView(
        channel_claimed(escrow, world.states),
        {a: int(dist.functions.claimed(a).call()) for a in last.payouts.leaves},
        int(dist.functions.totalReceived().call()),
        int(dist.functions.totalClaimed().call()),
    )
    charged = {c: s.charged for c, s in world.states.items()}
    assert reconcile(world.ledger, charged, view) == []
