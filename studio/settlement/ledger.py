"""The double-entry ledger in SQL: the transactions :mod:`royalties.ledger` returns, stored once
each (``(kind, ref)`` is unique), balances derived from the entries alone."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from royalties.ledger import Entry, Transaction
from studio.db.models import LedgerEntry, LedgerTransaction


def post(db: Session, tx: Transaction) -> bool:
    """Adds ``tx`` to the session unless an event with its (kind, ref) is stored; returns
    whether it was added. Empty transactions (a zero-price play) are not stored."""
    if not tx.entries:
        return False
    exists = db.scalar(
        select(LedgerTransaction.id).where(
            LedgerTransaction.kind == tx.kind, LedgerTransaction.ref == tx.ref
        )
    )
    if exists is not None:
        return False
    row = LedgerTransaction(kind=tx.kind, ref=tx.ref)
    row.entries = [LedgerEntry(account=e.account, amount=e.amount) for e in tx.entries]
    db.add(row)
    return True


def insert_new(db: Session, tx: Transaction) -> None:
    """Writes ``tx`` at once (two statements, no unit of work) where the caller's own
    uniqueness guarantees the event is new — a play, whose voucher seq the caller just won —
    so no look-up is made; the unique (kind, ref) constraint still backs it (IntegrityError).
    Empty transactions (a zero-price play) are not stored."""
    if not tx.entries:
        return
    tx_id = db.execute(
        insert(LedgerTransaction).values(kind=tx.kind, ref=tx.ref).returning(LedgerTransaction.id)
    ).scalar_one()
    db.execute(
        insert(LedgerEntry),
        [{"transaction_id": tx_id, "account": e.account, "amount": e.amount} for e in tx.entries],
    )


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
