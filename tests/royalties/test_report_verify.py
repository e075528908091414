"""Epoch reports: canonical bytes, hashes, round trip; verify recomputes them from the inputs
alone, matches honest reports and names the first difference of tampered ones."""

from __future__ import annotations

import hashlib
import json

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, settings

from royalties.errors import ReportError, SplitError
from royalties.gross import ChargedPlay, covered_gross
from royalties.report import (
    JSON_SAFE_INT,
    ChainRef,
    Report,
    build_report,
    canonical_json,
    load_report,
    parse_report,
)
from royalties.splits import SplitState, Terms, advance, checksum
from royalties.verify import verify_report
from tests.royalties.strategies import ADDRESSES, DUST, TRACKS, EpochInput, histories

CHAIN = ChainRef(31337, "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20)
A, B, C = (checksum(a) for a in ADDRESSES[:3])
T1, T2 = TRACKS[:2]


def reports(history: list[EpochInput]) -> list[Report]:
    """One report per epoch of ``history``; each channel 1 redeems all gross (one channel)."""
    state = SplitState()
    cumulative: dict[bytes, int] = {}
    allocated = 0
    out: list[Report] = []
    for e in history:
        for track, inc in e.increments.items():
            cumulative[track] = cumulative.get(track, 0) + inc
        state = advance(state, e.epoch, dict(cumulative), e.terms, e.dust_account)
        if not any(s.role_amounts() for s in state.segments) or sum(cumulative.values()) < 2:
            continue
        try:
            report = build_report(
                epoch=e.epoch,
                state=state,
                channels={1: sum(cumulative.values()) - 1, 7: 1},
                dust_account=e.dust_account,
                previous_total=allocated,
                previous_leaves=dict(out[-1].payouts.leaves) if out else None,
                chain=CHAIN,
                code_version="test",
            )
        except Exception as exc:  # noqa: BLE001 - only "nothing owed yet" is allowed here
            assert "nothing is owed" in str(exc)
            continue
        allocated += report.payouts.epoch_total
        out.append(report)
    return out


def simple() -> Report:
    t = Terms(0, A, B, C, 5000, 4000, 1000)
    big = 3 * 2**60  # beyond 2^53: must be a decimal string
    state = advance(SplitState(), 2, {T1: 1001, T2: big}, {T1: t, T2: t}, DUST)
    return build_report(
        epoch=2,
        state=state,
        channels={1: 1001, 2: big},
        dust_account=DUST,
        previous_total=0,
        chain=CHAIN,
        code_version="abc123",
    )


def test_canonical_bytes_and_hashes() -> None:
    r = simple()
    doc = json.loads(r.data)
    assert r.data == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert r.sha256 == hashlib.sha256(r.data).digest()
    assert r.keccak256 == keccak(r.data)
    big = next(t for t in doc["figures"]["tracks"] if t["track_id"] == "0x" + T2.hex())
    assert big["gross"] == str(3 * 2**60)
    assert doc["inputs"]["channels"][0] == {"channel_id": 1, "claimed": 1001}
    assert canonical_json({"x": JSON_SAFE_INT, "y": -JSON_SAFE_INT - 1}) == (
        b'{"x":9007199254740992,"y":"-9007199254740993"}'
    )
    inputs, _ = parse_report(r.data)
    assert (
        inputs.state.segments
        == advance(
            SplitState(),
            2,
            {T1: 1001, T2: 3 * 2**60},
            {t: Terms(0, A, B, C, 5000, 4000, 1000) for t in (T1, T2)},
            DUST,
        ).segments
    )
    assert inputs.channels == {1: 1001, 2: 3 * 2**60}
    v = verify_report(r.data, expected_sha256=r.sha256)
    assert v.ok and v.root == r.payouts.root and v.epoch == 2


def test_build_refuses_unattributed_money_and_wrong_epoch() -> None:
    t = Terms(0, A, B, C, 5000, 4000, 1000)
    state = advance(SplitState(), 2, {T1: 1001}, {T1: t}, DUST)
    kw = {"dust_account": DUST, "previous_total": 0, "chain": CHAIN, "code_version": "x"}
    with pytest.raises(ReportError, match="attributed"):
        build_report(epoch=2, state=state, channels={1: 1000}, **kw)  # type: ignore[arg-type]
    with pytest.raises(ReportError, match="not 3"):
        build_report(epoch=3, state=state, channels={1: 1001}, **kw)  # type: ignore[arg-type]


def tamper(data: bytes, edit: object) -> bytes:
    doc = json.loads(data)
    edit(doc)  # type: ignore[operator]
    return canonical_json(doc)


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (lambda d: d["figures"]["payees"][0].update(cumulative=1), "figures.payees[0].cumulative"),
        (lambda d: d["figures"].update(root="0x" + "00" * 32), "figures.root"),
        (lambda d: d["figures"]["dust"].update(pending=0), "figures.dust.pending"),
        (
            lambda d: d["inputs"]["segments"][0]["terms"].update(fan_bps=3000, platform_bps=2000),
            "figures.payees[1].cumulative",
        ),
        (lambda d: d["inputs"]["segments"][0].update(gross=1000), "inputs.channels"),
        (lambda d: d["inputs"]["channels"][0].update(claimed=1000), "inputs.channels"),
        (lambda d: d["inputs"].update(previous_total=10**30), "payouts"),
        (lambda d: d["chain"].update(registry=d["chain"]["registry"].lower()), "format"),
        (lambda d: d["inputs"]["channels"].reverse(), "format"),
        (lambda d: d["inputs"]["segments"].reverse(), "format"),
        (lambda d: d.update(format="other/1"), "format"),
        (lambda d: d.pop("figures"), "figures"),
    ],
)
def test_verify_names_the_first_difference(edit: object, where: str) -> None:
    r = simple()
    result = verify_report(tamper(r.data, edit))
    assert not result.ok
    assert result.difference is not None
    assert result.difference.where.startswith(where), result.difference


def test_verify_refuses_non_canonical_bytes_and_wrong_hash() -> None:
    r = simple()
    spaced = json.dumps(json.loads(r.data), sort_keys=True).encode()
    assert verify_report(spaced).difference.where == "format"  # type: ignore[union-attr]
    assert verify_report(b"\xff").difference.where == "format"  # type: ignore[union-attr]
    assert verify_report(b"[]").difference.where == "format"  # type: ignore[union-attr]
    wrong = verify_report(r.data, expected_sha256=bytes(32))
    assert wrong.difference.where == "sha256"  # type: ignore[union-attr]
    with pytest.raises(ReportError, match="canonical"):
        parse_report(spaced)
    as_string = r.data.replace(b'"claimed":1001', b'"claimed":"1001"')
    assert as_string != r.data
    assert verify_report(as_string).difference.where == "format"  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(histories())
def test_every_honest_report_verifies_and_continues_the_last(history: list[EpochInput]) -> None:
    out = reports(history)
    for i, r in enumerate(out):
        previous = out[i - 1].data if i else None
        result = verify_report(r.data, expected_sha256=r.sha256, previous=previous)
        assert result.ok, result.difference
        assert result.root == r.payouts.root
    if len(out) >= 2:
        backwards = verify_report(out[0].data, previous=out[1].data)
        assert backwards.difference is not None
        assert backwards.difference.where == "epoch"


def test_succession_catches_a_rewritten_history() -> None:
    t = Terms(0, A, B, C, 5000, 4000, 1000)
    t2 = Terms(1, A, B, C, 2000, 4000, 4000)
    kw = {"dust_account": DUST, "chain": CHAIN, "code_version": "x"}
    s1 = advance(SplitState(), 1, {T1: 100}, {T1: t}, DUST)
    r1 = build_report(epoch=1, state=s1, channels={1: 100}, previous_total=0, **kw)  # type: ignore[arg-type]
    s2 = advance(s1, 2, {T1: 200}, {T1: t2}, DUST)
    r2 = build_report(epoch=2, state=s2, channels={1: 200}, previous_total=100, **kw)  # type: ignore[arg-type]
    assert verify_report(r2.data, previous=r1.data).ok
    # The same epoch-2 figures, but claiming the first 100 were split under the new terms.
    forged = advance(SplitState(), 1, {T1: 200}, {T1: t2}, DUST)
    forged = SplitState(2, forged.segments)
    r2f = build_report(epoch=2, state=forged, channels={1: 200}, previous_total=100, **kw)  # type: ignore[arg-type]
    assert verify_report(r2f.data).ok  # consistent on its own...
    diff = verify_report(r2f.data, previous=r1.data).difference
    assert diff is not None and diff.where.startswith("segment")  # ...but not with epoch 1


def test_covered_gross_counts_only_redeemed_plays() -> None:
    plays = [
        ChargedPlay(1, 1, T1, 5, 5),
        ChargedPlay(2, 1, T2, 7, 7),
        ChargedPlay(1, 2, T2, 5, 10),
        ChargedPlay(1, 3, T1, 5, 15),
    ]
    assert covered_gross(plays, {1: 10, 2: 7}) == {T1: 5, T2: 12}
    assert covered_gross(plays, {1: 15}) == {T1: 10, T2: 5}
    first = covered_gross(plays[:2], {1: 5, 2: 7})
    later = covered_gross(plays[2:], {1: 15, 2: 7}, since={1: 5, 2: 7}, base=first)
    assert later == covered_gross(plays, {1: 15, 2: 7}) == {T1: 10, T2: 12}
    with pytest.raises(SplitError, match="not the running total"):
        covered_gross(plays, {1: 12})
    with pytest.raises(SplitError, match="running total is"):
        covered_gross([ChargedPlay(1, 1, T1, 5, 6)], {})
    with pytest.raises(SplitError, match="seq order"):
        covered_gross([plays[0], plays[0]], {})


def test_load_report_rebuilds_payouts_and_state() -> None:
    r = simple()
    loaded = load_report(r.data)
    assert loaded.data == r.data and loaded.state == r.state
    assert loaded.payouts.root == r.payouts.root
    assert loaded.payouts.proofs() == r.payouts.proofs()
    forged = tamper(r.data, lambda d: d["figures"]["payees"][0].update(cumulative=1))
    with pytest.raises(ReportError, match="do not follow"):
        load_report(forged)
    unbalanced = tamper(r.data, lambda d: d["inputs"]["channels"][0].update(claimed=1))
    with pytest.raises(ReportError, match="attributed"):
        load_report(unbalanced)
