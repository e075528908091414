"""Bearer sessions issued after a successful SIWE sign-in; stored in the database so every API
process sees the same sessions (no in-process state)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from studio.auth.tokens import new_token, token_sha256
from studio.db.models import Account, AccountRole, Session
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
    if row is None:
        raise _invalid()
    _check_live(row.revoked_at, row.expires_at, now)
    return row


@dataclass(frozen=True)
class Caller:
    """A signed-in caller resolved without ORM objects: for routes that only need who it is."""

    session_id: uuid.UUID
    account_id: uuid.UUID
    address: str
    roles: tuple[str, ...]  # sorted
    expires_at: datetime


# One row per role (one with role NULL for an account with none): prebuilt, so a request only
# binds the token's hash.
_CALLER = (
    select(
        Session.id,
        Session.account_id,
        Session.expires_at,
        Session.revoked_at,
        Account.address,
        AccountRole.role,
    )
    .join(Account, Account.id == Session.account_id)
    .outerjoin(AccountRole, AccountRole.account_id == Account.id)
    .where(Session.token_sha256 == bindparam("sha"))
)


def resolve_caller(db: Connection | DbSession, token: str, now: datetime) -> Caller:
    """:func:`resolve_session`'s checks and answers as one Core statement (a fraction of the
    ORM's cost per request)."""
    rows = db.execute(_CALLER, {"sha": token_sha256(token)}).all()
    if not rows:
        raise _invalid()
    session_id, account_id, expires_at, revoked_at, address, _ = rows[0]
    _check_live(revoked_at, expires_at, now)
    roles = tuple(sorted(r[5] for r in rows if r[5] is not None))
    return Caller(session_id, account_id, address, roles, expires_at)


def _invalid() -> Unauthorized:
    return Unauthorized("Your session is not valid; please sign in.", code="session_invalid")


def _check_live(revoked_at: datetime | None, expires_at: datetime, now: datetime) -> None:
    if revoked_at is not None:
        raise _invalid()
    if expires_at <= now:
        raise Unauthorized(
            "Your session has expired; please sign in again.", code="session_expired"
        )


def revoke_session(row: Session, now: datetime) -> None:
    row.revoked_at = now
