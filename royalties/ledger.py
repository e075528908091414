"""Double-entry posting rules for settlement money, as pure functions. Base units.

Every money event becomes one :class:`Transaction` of signed entries (debit positive, credit
negative) that sum to zero; balances are only ever derived from entries (:func:`balances`). The
studio stores the transactions these functions return, in SQL, and nothing else.

Accounts (strings, so SQL can index them):

* ``receivable:channel:<id>`` — what a platform's signed vouchers owe and the escrow has not yet
  paid over (debit balance);
* ``gross:track:<0x id>`` — what a track earned and the split has not yet allocated (credit);
* ``distributor`` — money redeemed into the distributor and not yet claimed by payees (debit);
* ``payee:<address>`` — what the distributor owes a payee: entitlement minus claims (credit);
  the dust account is a payee like any other;
* ``dust:pending`` — remainders of open segments, held unallocated (credit).

Postings:

========================  ===============================================================
play                      receivable:channel  +price  /  gross:track  -price
channel claim             distributor         +amount /  receivable:channel  -amount
entitlements of an epoch  gross:track  +Δgross per track / payee:p  -Δentitlement per payee,
                          dust:pending  -Δpending (Δ from the previous epoch's state)
payee claim               payee:p             +amount /  distributor  -amount
========================  ===============================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from royalties.errors import LedgerError
from royalties.splits import SplitState, checksum, entitlements

DISTRIBUTOR = "distributor"
DUST_PENDING = "dust:pending"


def receivable(channel_id: int) -> str:
    """The account of what channel ``channel_id`` owes and has not paid over."""
    return f"receivable:channel:{channel_id}"


def track_gross(track_id: bytes) -> str:
    """The account of what a track earned and the split has not allocated."""
    return f"gross:track:0x{track_id.hex()}"


def payee(address: str) -> str:
    """The account of what the distributor owes ``address``."""
    return f"payee:{checksum(address)}"


@dataclass(frozen=True)
class Entry:
    """One leg: ``amount`` base units, debit positive, credit negative."""

    account: str
    amount: int


@dataclass(frozen=True)
class Transaction:
    """Balanced entries for one event; ``kind`` names the rule, ``ref`` the event (a voucher,
    a transaction hash, an epoch) so that the studio can store each event once."""

    kind: str
    ref: str
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        for e in self.entries:
            if not isinstance(e.amount, int) or isinstance(e.amount, bool) or e.amount == 0:
                raise LedgerError(f"{self.kind} {self.ref}: entry amounts are non-zero ints: {e}")
        if sum(e.amount for e in self.entries) != 0:
            raise LedgerError(f"{self.kind} {self.ref}: entries do not balance: {self.entries}")


def _transaction(kind: str, ref: str, legs: Iterable[tuple[str, int]]) -> Transaction:
    merged: dict[str, int] = {}
    for account, amount in legs:
        merged[account] = merged.get(account, 0) + amount
    return Transaction(kind, ref, tuple(Entry(a, v) for a, v in sorted(merged.items()) if v))


def _positive(amount: int, what: str) -> None:
    if amount <= 0:
        raise LedgerError(f"{what} must be positive, got {amount}")


def post_play(channel_id: int, track_id: bytes, price: int, *, ref: str) -> Transaction:
    """A play charged to a channel at ``price`` (a zero-price play posts nothing)."""
    if price < 0:
        raise LedgerError(f"price must be >= 0, got {price}")
    return _transaction(
        "play", ref, [(receivable(channel_id), price), (track_gross(track_id), -price)]
    )


def post_channel_claim(channel_id: int, amount: int, *, ref: str) -> Transaction:
    """``amount`` redeemed from a channel into the distributor (``VoucherRedeemed``)."""
    _positive(amount, "claimed amount")
    return _transaction(
        "channel_claim", ref, [(DISTRIBUTOR, amount), (receivable(channel_id), -amount)]
    )


def post_entitlements(before: SplitState, after: SplitState, *, ref: str) -> Transaction:
    """Moves what the tracks earned since ``before`` to the payees and pending dust of
    ``after``. Balanced because each state conserves: Σ gross = Σ entitlements + pending."""
    old, new = entitlements(before.segments), entitlements(after.segments)
    old_gross, new_gross = before.track_gross(), after.track_gross()
    legs = [(track_gross(t), g - old_gross.get(t, 0)) for t, g in new_gross.items()]
    for account in set(old.accounts) | set(new.accounts):
        delta = new.accounts.get(account, 0) - old.accounts.get(account, 0)
        if delta < 0:
            raise LedgerError(f"entitlement of {account} would go down by {-delta}")
        legs.append((payee(account), -delta))
    legs.append((DUST_PENDING, old.dust_pending - new.dust_pending))
    return _transaction("entitlements", ref, legs)


def post_payee_claim(account: str, amount: int, *, ref: str) -> Transaction:
    """``amount`` paid by the distributor to ``account`` (``Claimed``)."""
    _positive(amount, "claimed amount")
    return _transaction("payee_claim", ref, [(payee(account), amount), (DISTRIBUTOR, -amount)])


def balances(transactions: Iterable[Transaction]) -> dict[str, int]:
    """Every account's balance (debit positive), derived from the entries alone."""
    out: dict[str, int] = {}
    for tx in transactions:
        for e in tx.entries:
            out[e.account] = out.get(e.account, 0) + e.amount
    return {a: v for a, v in sorted(out.items()) if v}


@dataclass(frozen=True)
class ChainView:
    """What the chain says, base units: each channel's redeemed cumulative amount
    (``PlayEscrow.getChannel(id).claimed``), each payee's claimed amount
    (``RoyaltyDistributor.claimed``) and the distributor's ``totalReceived`` / ``totalClaimed``."""

    channel_claimed: Mapping[int, int]
    payee_claimed: Mapping[str, int]
    total_received: int
    total_claimed: int


def reconcile(
    transactions: Iterable[Transaction], charged: Mapping[int, int], view: ChainView
) -> list[str]:
    """Differences between the ledger and the chain (empty when they agree).

    ``charged`` maps channels to the cumulative amount of their accepted plays; the ledger's
    receivable of a channel must be ``charged - claimed on-chain``, the distributor's balance
    ``totalReceived - totalClaimed``, and payees' claims must add up to ``totalClaimed``.
    """
    txs = list(transactions)
    bal = balances(txs)
    problems: list[str] = []
    for channel_id in sorted(set(charged) | set(view.channel_claimed)):
        want = charged.get(channel_id, 0) - view.channel_claimed.get(channel_id, 0)
        got = bal.get(receivable(channel_id), 0)
        if want != got:
            problems.append(f"{receivable(channel_id)}: chain says {want}, ledger {got}")
    want_cash = view.total_received - view.total_claimed
    if bal.get(DISTRIBUTOR, 0) != want_cash:
        problems.append(f"{DISTRIBUTOR}: chain says {want_cash}, ledger {bal.get(DISTRIBUTOR, 0)}")
    paid: dict[str, int] = {}
    for tx in txs:
        if tx.kind == "payee_claim":
            for e in tx.entries:
                if e.account != DISTRIBUTOR:
                    paid[e.account] = paid.get(e.account, 0) + e.amount
    chain_paid = {payee(a): v for a, v in view.payee_claimed.items()}
    for account in sorted(set(chain_paid) | set(paid)):
        if paid.get(account, 0) != chain_paid.get(account, 0):
            problems.append(
                f"{account}: chain paid {chain_paid.get(account, 0)}, ledger {paid.get(account, 0)}"
            )
    if sum(paid.values()) != view.total_claimed:
        problems.append(f"payee claims: chain {view.total_claimed}, ledger {sum(paid.values())}")
    return problems
