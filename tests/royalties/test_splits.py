"""Split maths: conservation, monotone cumulative entitlements, floor never over-pays, terms
per epoch, agreement with a brute-force reference."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from royalties.errors import SplitError
from royalties.splits import (
    BPS,
    Entitlements,
    Segment,
    SplitState,
    Terms,
    advance,
    checksum,
    entitlements,
)
from tests.royalties.strategies import ADDRESSES, DUST, TRACKS, EpochInput, histories

A, B, C, D = (checksum(a) for a in ADDRESSES[:4])
T1, T2 = TRACKS[:2]


def run(history: list[EpochInput]) -> list[tuple[SplitState, Entitlements]]:
    """Feeds a history through ``advance`` (increments turned into cumulative gross)."""
    state = SplitState()
    cumulative: dict[bytes, int] = {}
    out = []
    for e in history:
        for track, inc in e.increments.items():
            cumulative[track] = cumulative.get(track, 0) + inc
        gross = {t: cumulative[t] for t in e.increments}
        state = advance(state, e.epoch, gross, e.terms, e.dust_account)
        out.append((state, entitlements(state.segments)))
    return out


@dataclass
class Run:
    terms: Terms
    gross: int
    dust: str | None = None


def reference(history: list[EpochInput]) -> tuple[dict[str, int], int, int]:
    """Brute force, written apart from the module: runs of equal terms per track, each split
    by flooring its total; remainders of runs that ended go to the dust of the epoch that ended
    them, the rest is pending."""
    runs: dict[bytes, list[Run]] = {}
    for e in history:
        for track, t in e.terms.items():
            track_runs = runs.setdefault(track, [])
            if track_runs and track_runs[-1].dust is None and track_runs[-1].terms != t:
                track_runs[-1].dust = checksum(e.dust_account)
            inc = e.increments.get(track, 0)
            if inc:
                if track_runs and track_runs[-1].dust is None:
                    track_runs[-1].gross += inc
                else:
                    track_runs.append(Run(t, inc))
    owed: dict[str, int] = {}
    pending = allocated = 0
    for track_runs in runs.values():
        for r in track_runs:
            t, g, dust = r.terms, r.gross, r.dust
            paid = 0
            for payee, w in t.shares():
                share = int(Fraction(g * w, BPS))  # floor of a non-negative fraction
                paid += share
                if share:
                    owed[payee] = owed.get(payee, 0) + share
            if dust is None:
                pending += g - paid
            else:
                allocated += g - paid
                if g - paid:
                    owed[dust] = owed.get(dust, 0) + g - paid
    return owed, allocated, pending


@settings(max_examples=300, deadline=None)
@given(histories())
def test_conservation_monotone_and_reference(history: list[EpochInput]) -> None:
    results = run(history)
    before: dict[str, int] = {}
    gross_so_far = 0
    for e, (_, ent) in zip(history, results, strict=True):
        gross_so_far += sum(e.increments.values())
        # Conservation: every base unit earned is owed to someone or pending as dust.
        assert sum(ent.accounts.values()) + ent.dust_pending == ent.gross == gross_so_far
        assert ent.total == sum(ent.accounts.values())
        assert 0 <= ent.dust_pending
        # Monotone: nobody's cumulative entitlement goes down, the dust account's included.
        for account, amount in before.items():
            assert ent.accounts.get(account, 0) >= amount, account
        before = dict(ent.accounts)
    owed, allocated, pending = reference(history)
    final = results[-1][1]
    assert dict(final.accounts) == owed
    assert (final.dust_allocated, final.dust_pending) == (allocated, pending)


@settings(max_examples=200, deadline=None)
@given(histories())
def test_floor_never_over_pays(history: list[EpochInput]) -> None:
    state, _ = run(history)[-1]
    exact: dict[str, Fraction] = {}
    for s in state.segments:
        assert 0 <= s.remainder() <= 2
        for (payee, amount), (_, w) in zip(s.role_amounts(), s.terms.shares(), strict=True):
            share = Fraction(s.gross * w, BPS)
            assert amount <= share < amount + 1
            exact[payee] = exact.get(payee, Fraction(0)) + share
        if s.dust_account is not None:
            exact[s.dust_account] = exact.get(s.dust_account, Fraction(0)) + s.remainder()
    for account, amount in entitlements(state.segments).accounts.items():
        assert amount <= exact[account]


@given(st.integers(0, 10**15), st.integers(0, 10**6))
def test_pure_floor_of_one_segment_is_monotone(g: int, extra: int) -> None:
    t = Terms(0, A, B, C, 3333, 3333, 3334)
    low = Segment(T1, 0, t, g).role_amounts()
    high = Segment(T1, 0, t, g + extra).role_amounts()
    assert all(x[1] <= y[1] for x, y in zip(low, high, strict=True))


def test_remainder_is_not_monotone_so_open_dust_stays_pending() -> None:
    t = Terms(0, A, B, C, 3333, 3333, 3334)
    assert Segment(T1, 0, t, 3).remainder() == 2
    assert Segment(T1, 0, t, 4).remainder() == 1
    s1 = advance(SplitState(), 0, {T1: 3}, {T1: t}, DUST)
    s2 = advance(s1, 1, {T1: 4}, {T1: t}, DUST)
    for s in (s1, s2):
        ent = entitlements(s.segments)
        assert checksum(DUST) not in ent.accounts
        assert ent.dust_allocated == 0
    assert entitlements(s1.segments).dust_pending == 2
    assert entitlements(s2.segments).dust_pending == 1


def test_terms_change_applies_from_its_epoch_and_closes_the_old_segment() -> None:
    old = Terms(0, A, B, C, 3333, 3333, 3334)
    new = Terms(1, D, B, C, 5000, 2500, 2500)
    s = advance(SplitState(), 4, {T1: 1000}, {T1: old}, DUST)
    s = advance(s, 5, {T1: 1001}, {T1: old}, DUST)
    s = advance(s, 6, {T1: 2001}, {T1: new}, DUST)
    assert [(x.start_epoch, x.gross, x.closed) for x in s.segments] == [
        (4, 1001, True),
        (6, 1000, False),
    ]
    ent = entitlements(s.segments)
    # old segment: 1001 * 3333 // 10000 = 333 (x2), 1001 * 3334 // 10000 = 333 -> dust 2
    assert ent.accounts == {A: 333, B: 333 + 250, C: 333 + 250, D: 500, checksum(DUST): 2}
    assert (ent.dust_allocated, ent.dust_pending, ent.gross) == (2, 0, 2001)


def test_terms_change_without_earnings_closes_but_opens_nothing() -> None:
    old = Terms(0, A, B, C, 3333, 3333, 3334)
    new = Terms(1, A, B, C, 3333, 3333, 3334)
    s = advance(SplitState(), 0, {T1: 5}, {T1: old}, DUST)
    s = advance(s, 1, {}, {T1: new}, A)
    assert [(x.gross, x.dust_account) for x in s.segments] == [(5, A)]
    assert s.open_segment(T1) is None
    assert entitlements(s.segments).accounts[A] == 1 + 2  # floor(5 * .3333) + remainder 5 - 3


def test_one_payee_in_many_roles_is_summed() -> None:
    t1 = Terms(0, A, A, A, 3333, 3333, 3334)
    t2 = Terms(0, B, A, C, 0, 10_000, 0)
    s = advance(SplitState(), 0, {T1: 10, T2: 7}, {T1: t1, T2: t2}, DUST)
    ent = entitlements(s.segments)
    assert ent.accounts == {A: 3 + 3 + 3 + 7}
    assert ent.dust_pending == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"creator_bps": 5000, "fan_bps": 5000, "platform_bps": 1}, "sum to 10000"),
        ({"creator_bps": -1, "fan_bps": 10_001, "platform_bps": 0}, "non-negative"),
        ({"creator": "0x1234"}, "not an address"),
        ({"version": -1}, "version"),
    ],
)
def test_bad_terms_are_refused(kwargs: dict[str, object], match: str) -> None:
    base: dict[str, object] = {
        "version": 0,
        "creator": A,
        "fan": B,
        "treasury": C,
        "creator_bps": 5000,
        "fan_bps": 4000,
        "platform_bps": 1000,
    }
    with pytest.raises(SplitError, match=match):
        Terms(**{**base, **kwargs})  # type: ignore[arg-type]


def test_bad_advances_are_refused() -> None:
    t = Terms(0, A, B, C, 5000, 4000, 1000)
    s = advance(SplitState(), 2, {T1: 10}, {T1: t}, DUST)
    with pytest.raises(SplitError, match="does not follow"):
        advance(s, 2, {T1: 11}, {T1: t}, DUST)
    with pytest.raises(SplitError, match="went down"):
        advance(s, 3, {T1: 9}, {T1: t}, DUST)
    with pytest.raises(SplitError, match="has no terms"):
        advance(s, 3, {T2: 1}, {}, DUST)
    with pytest.raises(SplitError, match="32 bytes"):
        advance(s, 3, {b"short": 1}, {b"short": t}, DUST)
    # A refused advance leaves the state as it was (states are values).
    assert s.track_gross() == {T1: 10}
    with pytest.raises(SplitError, match="duplicate segment"):
        SplitState(3, (Segment(T1, 0, t, 1, DUST), Segment(T1, 0, t, 2)))
    with pytest.raises(SplitError, match="two open segments"):
        SplitState(3, (Segment(T1, 0, t, 1), Segment(T1, 1, t, 2)))
