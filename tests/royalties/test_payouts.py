"""Payout roots: every payee's proof verifies, epochTotal is the increment over what is already
allocated on-chain, and leaves never go down across epochs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from contracts.merkle import PayoutTree
from royalties.errors import PayoutError
from royalties.payouts import build_payouts, verify_proof
from royalties.splits import SplitState, advance, checksum, entitlements
from tests.royalties.strategies import ADDRESSES, EpochInput, histories

A, B = checksum(ADDRESSES[0]), checksum(ADDRESSES[1])


@settings(max_examples=60, deadline=None)
@given(histories())
def test_epoch_roots_from_splits(history: list[EpochInput]) -> None:
    state = SplitState()
    cumulative: dict[bytes, int] = {}
    allocated = 0
    previous: dict[str, int] | None = None
    for e in history:
        for track, inc in e.increments.items():
            cumulative[track] = cumulative.get(track, 0) + inc
        state = advance(state, e.epoch, dict(cumulative), e.terms, e.dust_account)
        ent = entitlements(state.segments)
        if not ent.accounts:
            with pytest.raises(PayoutError, match="nothing is owed"):
                build_payouts(e.epoch, ent.accounts, previous_total=allocated)
            continue
        payouts = build_payouts(
            e.epoch, ent.accounts, previous_total=allocated, previous_leaves=previous
        )
        assert payouts.total == ent.total
        assert payouts.epoch_total >= 0
        allocated += payouts.epoch_total  # what the distributor's totalAllocated becomes
        assert allocated == ent.gross - ent.dust_pending
        assert payouts.root == PayoutTree(ent.accounts.items()).root
        for account, proof in payouts.proofs().items():
            assert verify_proof(payouts.root, account, payouts.leaves[account], proof)
            assert not verify_proof(payouts.root, account, payouts.leaves[account] + 1, proof)
        previous = dict(payouts.leaves)


def test_zero_leaves_are_left_out_and_proofs_by_any_case() -> None:
    p = build_payouts(3, {A: 5, B: 0}, previous_total=0)
    assert dict(p.leaves) == {A: 5}
    assert p.proof(A.lower()) == []
    assert (p.total, p.epoch_total, p.root) == (5, 5, PayoutTree([(A, 5)]).root)
    with pytest.raises(KeyError):
        p.proof(B)


def test_refusals() -> None:
    with pytest.raises(PayoutError, match="negative"):
        build_payouts(1, {A: -1}, previous_total=0)
    with pytest.raises(PayoutError, match="twice"):
        x = checksum("0x" + "ab" * 20)
        build_payouts(1, {x: 1, x.lower(): 2}, previous_total=0)
    with pytest.raises(PayoutError, match="below the total already allocated"):
        build_payouts(1, {A: 1}, previous_total=2)
    with pytest.raises(PayoutError, match="go down"):
        build_payouts(2, {A: 1, B: 9}, previous_total=0, previous_leaves={A: 2})
    with pytest.raises(PayoutError, match="go down"):
        build_payouts(2, {B: 9}, previous_total=0, previous_leaves={A: 2})
