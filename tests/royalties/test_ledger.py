"""Ledger postings: every transaction balances, and the balances derived from random event
streams equal the split maths and the chain's figures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from royalties.errors import LedgerError
from royalties.gross import ChargedPlay, covered_gross
from royalties.ledger import (
    DISTRIBUTOR,
    DUST_PENDING,
    ChainView,
    Entry,
    Transaction,
    balances,
    payee,
    post_channel_claim,
    post_entitlements,
    post_payee_claim,
    post_play,
    receivable,
    reconcile,
    track_gross,
)
from royalties.splits import SplitState, advance, entitlements
from tests.royalties.strategies import DUST, TRACKS, terms

EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("play"), st.integers(1, 3), st.sampled_from(TRACKS), st.integers(0, 9)),
        st.tuples(st.just("claim_channel"), st.integers(1, 3), st.just(b""), st.integers(0, 99)),
        st.tuples(st.just("epoch"), st.just(0), st.just(b""), st.just(0)),
        st.tuples(st.just("claim_payee"), st.integers(0, 9), st.just(b""), st.integers(1, 99)),
    ),
    max_size=60,
)


@settings(max_examples=120, deadline=None)
@given(EVENTS, st.data())
def test_random_streams_balance_and_match_the_split(
    events: list[tuple[str, int, bytes, int]], data: st.DataObject
) -> None:
    track_terms = {t: data.draw(terms()) for t in TRACKS}
    txs: list[Transaction] = []
    plays: list[ChargedPlay] = []
    charged: dict[int, int] = {}
    seq: dict[int, int] = {}
    channel_claimed: dict[int, int] = {}
    payee_claimed: dict[str, int] = {}
    state = SplitState()
    epoch = 0
    for i, (kind, n, track, amount) in enumerate(events):
        ref = str(i)
        if kind == "play":
            seq[n] = seq.get(n, 0) + 1
            charged[n] = charged.get(n, 0) + amount
            plays.append(ChargedPlay(n, seq[n], track, amount, charged[n]))
            if amount:
                txs.append(post_play(n, track, amount, ref=ref))
        elif kind == "claim_channel":
            # Redeem the voucher of some accepted play (a prefix of the channel's plays).
            ours = [
                p for p in plays if p.channel_id == n and p.cumulative > channel_claimed.get(n, 0)
            ]
            if ours:
                target = ours[amount % len(ours)].cumulative
                txs.append(post_channel_claim(n, target - channel_claimed.get(n, 0), ref=ref))
                channel_claimed[n] = target
        elif kind == "epoch":
            gross = covered_gross(plays, channel_claimed)
            new = advance(state, epoch, gross, {t: track_terms[t] for t in gross}, DUST)
            epoch += 1
            tx = post_entitlements(state, new, ref=f"epoch {epoch}")
            state = new
            if tx.entries:
                txs.append(tx)
        else:
            owed = entitlements(state.segments).accounts
            if owed:
                account = sorted(owed)[n % len(owed)]
                left = owed[account] - payee_claimed.get(account, 0)
                if left > 0:
                    take = min(left, amount)
                    txs.append(post_payee_claim(account, take, ref=ref))
                    payee_claimed[account] = payee_claimed.get(account, 0) + take

    for tx in txs:
        assert sum(e.amount for e in tx.entries) == 0
    bal = balances(txs)
    assert sum(bal.values()) == 0
    ent = entitlements(state.segments)
    for account, amount in ent.accounts.items():
        assert bal.get(payee(account), 0) == payee_claimed.get(account, 0) - amount
    assert bal.get(DUST_PENDING, 0) == -ent.dust_pending
    split_gross = state.track_gross()
    for t in TRACKS:
        charged_t = sum(p.price for p in plays if p.track_id == t)
        assert bal.get(track_gross(t), 0) == split_gross.get(t, 0) - charged_t
    for c, amount in charged.items():
        assert bal.get(receivable(c), 0) == amount - channel_claimed.get(c, 0)
    view = ChainView(
        channel_claimed,
        payee_claimed,
        total_received=sum(channel_claimed.values()),
        total_claimed=sum(payee_claimed.values()),
    )
    assert bal.get(DISTRIBUTOR, 0) == view.total_received - view.total_claimed
    assert reconcile(txs, charged, view) == []
    if payee_claimed:
        lost = ChainView(channel_claimed, {}, view.total_received, view.total_claimed)
        assert reconcile(txs, charged, lost)  # a claim the chain never saw is reported


def test_postings_and_refusals() -> None:
    t = TRACKS[0]
    assert post_play(1, t, 5, ref="v1").entries == (
        Entry(track_gross(t), -5),
        Entry(receivable(1), 5),
    )
    assert post_play(1, t, 0, ref="v2").entries == ()
    with pytest.raises(LedgerError, match="balance"):
        Transaction("x", "y", (Entry("a", 1),))
    with pytest.raises(LedgerError, match="non-zero"):
        Transaction("x", "y", (Entry("a", 0),))
    with pytest.raises(LedgerError, match="positive"):
        post_channel_claim(1, 0, ref="tx")
    with pytest.raises(LedgerError, match="positive"):
        post_payee_claim(DUST, -1, ref="tx")
    with pytest.raises(LedgerError, match=">= 0"):
        post_play(1, t, -1, ref="v")
    view = ChainView({1: 5}, {}, total_received=5, total_claimed=0)
    problems = reconcile([post_play(1, t, 5, ref="v1")], {1: 5}, view)
    assert problems == [
        f"{receivable(1)}: chain says 0, ledger 5",
        "distributor: chain says 5, ledger 0",
    ]
