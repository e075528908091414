"""Hypothesis strategies shared by the royalties tests: addresses, terms, epoch histories."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from royalties.splits import BPS, Terms

# A small pool so that one address often holds several roles and tracks.
ADDRESSES = [f"0x{i:040x}" for i in range(1, 7)]
TRACKS = [bytes([i]) * 32 for i in range(1, 6)]
DUST = "0x" + "d" * 40


@st.composite
def bps_triples(draw: st.DrawFn) -> tuple[int, int, int]:
    """Three shares in basis points summing to 10,000 (awkward ones like 3333 included)."""
    special = st.sampled_from([(3333, 3333, 3334), (1, 1, 9998), (5000, 5000, 0), (0, 0, BPS)])
    a = draw(st.integers(0, BPS))
    b = draw(st.integers(0, BPS - a))
    return draw(st.one_of(special, st.just((a, b, BPS - a - b))))


@st.composite
def terms(draw: st.DrawFn, version: int | None = None) -> Terms:
    c, f, p = draw(bps_triples())
    return Terms(
        version=draw(st.integers(0, 3)) if version is None else version,
        creator=draw(st.sampled_from(ADDRESSES)),
        fan=draw(st.sampled_from(ADDRESSES)),
        treasury=draw(st.sampled_from(ADDRESSES)),
        creator_bps=c,
        fan_bps=f,
        platform_bps=p,
    )


@dataclass(frozen=True)
class EpochInput:
    """What the studio gives the split for one epoch: increments and the terms in force."""

    epoch: int
    increments: dict[bytes, int]
    terms: dict[bytes, Terms]
    dust_account: str


@st.composite
def histories(draw: st.DrawFn, max_epochs: int = 6) -> list[EpochInput]:
    """Consecutive-or-gapped epochs; per epoch some tracks earn, and terms sometimes change."""
    n = draw(st.integers(1, max_epochs))
    epoch = draw(st.integers(0, 3))
    current: dict[bytes, Terms] = {}
    out: list[EpochInput] = []
    for _ in range(n):
        increments: dict[bytes, int] = {}
        in_force: dict[bytes, Terms] = {}
        for track in draw(st.lists(st.sampled_from(TRACKS), max_size=len(TRACKS), unique=True)):
            if track not in current or (draw(st.booleans()) and draw(st.booleans())):
                current[track] = draw(terms())
            in_force[track] = current[track]
            increments[track] = draw(
                st.one_of(st.integers(0, 20), st.integers(0, 10**12), st.just(3))
            )
        dust = draw(st.sampled_from([DUST, ADDRESSES[0]]))
        out.append(EpochInput(epoch, increments, in_force, dust))
        epoch += draw(st.integers(1, 2))
    return out
