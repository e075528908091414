"""Per-track cumulative gross from the plays the chain has actually paid for. Base units.

A channel's plays are charged in voucher order and each voucher's ``cumulativeAmount`` is exactly
the sum of the prices up to its play (:mod:`royalties.vouchers`), so the plays a channel's
on-chain ``claimed`` amount covers are the prefix whose running total is at most ``claimed``.
Summing their prices per track gives gross that adds up to the channels' claimed amounts to the
unit: ``sum(gross) == sum(claimed)``, which is the conservation the split then keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from royalties.errors import SplitError


@dataclass(frozen=True)
class ChargedPlay:
    """An accepted play: its ``channel_id``, voucher ``seq``, ``track_id``, ``price`` and the
    voucher's ``cumulative`` amount (base units) after it."""

    channel_id: int
    seq: int
    track_id: bytes
    price: int
    cumulative: int


def covered_gross(
    plays: Iterable[ChargedPlay],
    claimed: Mapping[int, int],
    *,
    since: Mapping[int, int] | None = None,
    base: Mapping[bytes, int] | None = None,
) -> dict[bytes, int]:
    """Cumulative gross per track of the plays that the channels' on-chain ``claimed`` amounts
    (cumulative, per channel id) pay for.

    Incremental use: ``since`` maps channels to the cumulative amount already attributed (the
    last settled ``claimed``) and ``base`` tracks to the gross attributed then
    (``SplitState.track_gross()``); ``plays`` then need only hold the plays after ``since``.

    ``plays`` may come in any order across channels but must be in ``seq`` order within a
    channel. A channel whose ``claimed`` amount falls between two plays' running totals means
    a voucher nobody accepted was redeemed: that raises SplitError.
    """
    gross: dict[bytes, int] = dict(base or {})
    covered: dict[int, int] = dict(since or {})
    running: dict[int, int] = dict(since or {})
    last_seq: dict[int, int] = {}
    for p in plays:
        if p.seq <= last_seq.get(p.channel_id, 0):
            raise SplitError(f"channel {p.channel_id}: plays out of seq order at {p.seq}")
        last_seq[p.channel_id] = p.seq
        total = running.get(p.channel_id, 0) + p.price
        if p.price < 0 or p.cumulative != total:
            raise SplitError(
                f"channel {p.channel_id}: play {p.seq} says cumulative {p.cumulative}, "
                f"running total is {total}"
            )
        running[p.channel_id] = total
        if total <= claimed.get(p.channel_id, 0):
            covered[p.channel_id] = total
            gross[p.track_id] = gross.get(p.track_id, 0) + p.price
    for channel_id, amount in claimed.items():
        if covered.get(channel_id, 0) != amount:
            raise SplitError(
                f"channel {channel_id}: claimed {amount} is not the running total of its plays "
                f"(covered {covered.get(channel_id, 0)})"
            )
    return gross
