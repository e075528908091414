"""The double-entry ledger in SQL: the transactions :mod:`royalties.ledger` returns, stored once
each (``(kind, ref)`` is unique), balances derived from the entries alone."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from royalties.ledger import Entry, Transaction
from studio.db.models import LedgerEntry, LedgerTransaction


def post(db: Session, tx: Transaction, *, known_new: bool = False) -> bool:
    """Adds ``tx`` to the session unless an event with its (kind, ref) is stored; returns
    whether it was added. Empty transactions (a zero-price play) are not stored.
    ``known_new``: the caller's own uniqueness guarantees the event is new (a play's voucher
    seq), so the look-up is skipped; the unique (kind, ref) constraint still backs it."""
    if not tx.entries:
        return False
    exists = (
        None
        if known_new
        else db.scalar(
            select(LedgerTransaction.id).where(
                LedgerTransaction.kind == tx.kind, LedgerTransaction.ref == tx.ref
            )
        )
    )
    if exists is not None:
        return False
    row = LedgerTransaction(kind=tx.kind, ref=tx.ref)
    row.entries = [LedgerEntry(account=e.account, amount=e.amount) for e in tx.entries]
    db.add(row)
    return True


def transactions(db: Session, kinds: Iterable[str] | None = None) -> list[Transaction]:
    """Every stored transaction (of ``kinds``), as :class:`royalties.ledger.Transaction`."""
    q = select(LedgerTransaction).order_by(LedgerTransaction.id)
    if kinds is not None:
        q = q.where(LedgerTransaction.kind.in_(list(kinds)))
    return [
        Transaction(
            row.kind,
            row.ref,
            tuple(Entry(e.account, e.amount) for e in sorted(row.entries, key=lambda e: e.id)),
        )
        for row in db.scalars(q)
    ]
