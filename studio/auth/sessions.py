"""Bearer sessions issued after a successful SIWE sign-in; stored in the database so every API
process sees the same sessions (no in-process state)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from studio.auth.tokens import new_token, token_sha256
from studio.db.models import Account, Session
from studio.errors import Unauthorized

SESSION_PREFIX = "tsn"


def get_or_create_account(db: DbSession, address: str, now: datetime) -> Account:
    """Accounts are created on first sign-in with no role: creator and fan are opted into
    (``POST /v1/me/roles``), platform comes with registering a platform."""
    account = db.scalars(select(Account).where(Account.address == address)).one_or_none()
    if account is None:
        account = Account(address=address, created_at=now)
        db.add(account)
        db.flush()
    return account


def open_session(db: DbSession, account: Account, now: datetime, ttl_s: int) -> tuple[str, Session]:
    token = new_token(SESSION_PREFIX)
    row = Session(
        token_sha256=token_sha256(token),
        account_id=account.id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    db.add(row)
    db.flush()
    return token, row


def resolve_session(db: DbSession, token: str, now: datetime) -> Session:
    # One query for session, account and roles: this runs on every authenticated request.
    row = (
        db.scalars(
            select(Session)
            .where(Session.token_sha256 == token_sha256(token))
            .options(joinedload(Session.account).joinedload(Account.roles))
        )
        .unique()
        .one_or_none()
    )
    if row is None or row.revoked_at is not None:
        raise Unauthorized("Your session is not valid; please sign in.", code="session_invalid")
    if row.expires_at <= now:
        raise Unauthorized(
            "Your session has expired; please sign in again.", code="session_expired"
        )
    return row


def revoke_session(row: Session, now: datetime) -> None:
    row.revoked_at = now
