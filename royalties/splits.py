"""Cumulative royalty entitlements per payee, epoch by epoch. Amounts in token base units,
shares in basis points (10,000 = 100 %).

The rule (DESIGN.md "Money", MONEY.md "Rounding"), made exact when terms change:

* A **segment** is a run of settled epochs in which one track was split under one unchanged set
  of :class:`Terms` (same version, payees and shares). It is keyed by ``(track_id,
  start_epoch)``; its ``gross`` ``S`` is what the track earned in those epochs. While open, ``S``
  only grows; a segment closes when a later epoch brings the track different terms, and then
  ``S`` is frozen for ever.
* Each role of a segment is entitled to ``floor(S * w / 10_000)`` (the cumulative-floor rule),
  where ``w`` is the role's share. An account's cumulative entitlement is the sum over every
  segment and role it holds (one address may be creator of one track and fan of another).
* The remainder ``r = S - sum(floor(S * w / 10_000))`` (at most 2 base units: three roles) of a
  **closed** segment is final and goes to the dust account in force when it closed. The
  remainder of an **open** segment is *pending dust*: it stays unallocated in the distributor.

Why pending dust: the remainder is not monotone in ``S`` (shares 3333/3333/3334: ``r(3) = 2``
but ``r(4) = 1``). A dust leaf that went down would let the dust account claim more than it is
finally owed, and the distributor would then refuse the last payee's claim. Floors of a
non-decreasing ``S`` never go down, and the set of closed segments only grows, so with this rule:

* conservation: ``sum(entitlements) + pending dust == sum(gross)``, exactly, every epoch;
* monotone: every account's cumulative entitlement (the dust account's included) never goes down;
* never over-pays: each role gets at most its exact share ``S * w / 10_000`` of every segment;
* terms apply per epoch: an epoch's gross is split with the terms the caller says were in force
  in that epoch (``VoiceRegistry.trackTermsAt(track, epoch)``); earlier epochs keep their terms.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from eth_utils.address import to_checksum_address

from royalties.errors import SplitError

BPS = 10_000
"""Basis points in a whole; shares of one set of terms sum to it."""

TRACK_ID_BYTES = 32


def checksum(address: str) -> str:
    """``address`` in EIP-55 form; raises SplitError when it is not a 20-byte hex address."""
    try:
        return str(to_checksum_address(address))
    except (TypeError, ValueError) as exc:
        raise SplitError(f"not an address: {address!r}") from exc


def check_track_id(track_id: bytes) -> bytes:
    """A track id is the 32-byte content hash of the track's audio."""
    if not isinstance(track_id, bytes) or len(track_id) != TRACK_ID_BYTES:
        raise SplitError(f"track id must be {TRACK_ID_BYTES} bytes, got {track_id!r}")
    return track_id


@dataclass(frozen=True)
class Terms:
    """The split of one track's plays: three payees and their shares in basis points.

    ``version`` is the model's terms version index on-chain; ``creator`` is the model's payout
    address, ``fan`` the track's fan, ``treasury`` Timbre's platform-fee treasury. Two Terms are
    the same terms only when every field is equal.
    """

    version: int
    creator: str
    fan: str
    treasury: str
    creator_bps: int
    fan_bps: int
    platform_bps: int

    def __post_init__(self) -> None:
        if self.version < 0:
            raise SplitError(f"terms version must be >= 0, got {self.version}")
        for name in ("creator", "fan", "treasury"):
            object.__setattr__(self, name, checksum(getattr(self, name)))
        bps = (self.creator_bps, self.fan_bps, self.platform_bps)
        if any(not isinstance(w, int) or isinstance(w, bool) or w < 0 for w in bps):
            raise SplitError(f"shares must be non-negative ints, got {bps}")
        if sum(bps) != BPS:
            raise SplitError(f"shares must sum to {BPS} bps, got {bps} (sum {sum(bps)})")

    def shares(self) -> tuple[tuple[str, int], ...]:
        """(payee, share in bps) for the creator, fan and platform roles, in that order."""
        return (
            (self.creator, self.creator_bps),
            (self.fan, self.fan_bps),
            (self.treasury, self.platform_bps),
        )


@dataclass(frozen=True)
class Segment:
    """One track under one set of terms over consecutive epochs (see the module docstring).

    ``gross`` is in base units. ``dust_account`` is None while the segment is open; once it
    closes, it names the account its remainder went to.
    """

    track_id: bytes
    start_epoch: int
    terms: Terms
    gross: int
    dust_account: str | None = None

    @property
    def closed(self) -> bool:
        """Whether the segment's gross is final and its remainder allocated."""
        return self.dust_account is not None

    def role_amounts(self) -> tuple[tuple[str, int], ...]:
        """(payee, floor(gross * bps / 10_000)) per role, in :meth:`Terms.shares` order."""
        return tuple((payee, self.gross * w // BPS) for payee, w in self.terms.shares())

    def remainder(self) -> int:
        """gross minus the floored role amounts: 0, 1 or 2 base units."""
        return self.gross - sum(a for _, a in self.role_amounts())


@dataclass(frozen=True)
class Entitlements:
    """Cumulative figures after an epoch, base units.

    ``accounts`` maps each payee (checksummed) to its cumulative entitlement, the allocated dust
    included (the dust account is a payee like any other); accounts owed 0 are left out.
    """

    accounts: Mapping[str, int]
    dust_allocated: int
    dust_pending: int
    gross: int

    @property
    def total(self) -> int:
        """Sum of all accounts' entitlements (== gross - dust_pending)."""
        return self.gross - self.dust_pending


@dataclass(frozen=True)
class SplitState:
    """Every segment so far, after epoch ``epoch`` (None before the first epoch)."""

    epoch: int | None = None
    segments: tuple[Segment, ...] = ()
    _open: dict[bytes, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        seen: set[tuple[bytes, int]] = set()
        for i, s in enumerate(self.segments):
            key = (check_track_id(s.track_id), s.start_epoch)
            if key in seen:
                raise SplitError(f"duplicate segment {s.track_id.hex()}@{s.start_epoch}")
            seen.add(key)
            if s.gross < 0:
                raise SplitError(f"negative gross in segment {s.track_id.hex()}")
            if self.epoch is not None and s.start_epoch > self.epoch:
                raise SplitError(f"segment starts after epoch {self.epoch}")
            if not s.closed:
                if s.track_id in self._open:
                    raise SplitError(f"track {s.track_id.hex()} has two open segments")
                self._open[s.track_id] = i

    def track_gross(self) -> dict[bytes, int]:
        """Cumulative gross per track, base units."""
        totals: dict[bytes, int] = {}
        for s in self.segments:
            totals[s.track_id] = totals.get(s.track_id, 0) + s.gross
        return totals

    def open_segment(self, track_id: bytes) -> Segment | None:
        """The track's open segment, if any."""
        i = self._open.get(track_id)
        return None if i is None else self.segments[i]


def advance(
    state: SplitState,
    epoch: int,
    gross: Mapping[bytes, int],
    terms: Mapping[bytes, Terms],
    dust_account: str,
) -> SplitState:
    """The state after settling ``epoch``.

    ``gross`` maps tracks to their cumulative gross through ``epoch`` (base units; tracks left
    out did not earn this epoch). ``terms`` maps tracks to the terms in force in ``epoch``; it
    must name every track whose gross grew, and may name others (a track whose terms differ
    from its open segment's has that segment closed now, which allocates its remainder).
    ``dust_account`` receives the remainders of segments closed now.

    Call it once per epoch, in order: gross earned in an epoch that is skipped would be split
    with the next epoch's terms.
    """
    if epoch < 0 or (state.epoch is not None and epoch <= state.epoch):
        raise SplitError(f"epoch {epoch} does not follow epoch {state.epoch}")
    dust = checksum(dust_account)
    previous = state.track_gross()
    segments = list(state.segments)
    open_index = dict(state._open)
    for track_id, t in terms.items():
        i = open_index.get(check_track_id(track_id))
        if i is not None and segments[i].terms != t:
            old = segments[i]
            segments[i] = Segment(old.track_id, old.start_epoch, old.terms, old.gross, dust)
            del open_index[track_id]
    for track_id, cumulative in gross.items():
        increment = cumulative - previous.get(check_track_id(track_id), 0)
        if increment < 0:
            raise SplitError(
                f"cumulative gross of track {track_id.hex()} went down: "
                f"{previous.get(track_id, 0)} -> {cumulative}"
            )
        if increment == 0:
            continue
        if track_id not in terms:
            raise SplitError(f"track {track_id.hex()} earned in epoch {epoch} but has no terms")
        i = open_index.get(track_id)
        if i is None:
            open_index[track_id] = len(segments)
            segments.append(Segment(track_id, epoch, terms[track_id], increment))
        else:
            old = segments[i]
            segments[i] = Segment(track_id, old.start_epoch, old.terms, old.gross + increment)
    segments.sort(key=lambda s: (s.track_id, s.start_epoch))
    return SplitState(epoch, tuple(segments))


def entitlements(segments: Iterable[Segment]) -> Entitlements:
    """Every account's cumulative entitlement, allocated and pending dust, and gross."""
    accounts: dict[str, int] = {}
    dust_allocated = dust_pending = gross = 0
    for s in segments:
        gross += s.gross
        for payee, amount in s.role_amounts():
            if amount:
                accounts[payee] = accounts.get(payee, 0) + amount
        r = s.remainder()
        if s.dust_account is None:
            dust_pending += r
        else:
            dust_allocated += r
            if r:
                accounts[s.dust_account] = accounts.get(s.dust_account, 0) + r
    return Entitlements(dict(sorted(accounts.items())), dust_allocated, dust_pending, gross)
