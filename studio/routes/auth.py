"""Sign-In with Ethereum: nonce, sign-in, logout."""

from __future__ import annotations

from fastapi import APIRouter

from studio.auth.sessions import get_or_create_account, open_session, revoke_session
from studio.auth.siwe_login import issue_nonce, verify_sign_in
from studio.deps import CurrentSession, DbDep, ServicesDep
from studio.schemas import NonceOut, SessionOut, SiweIn

router = APIRouter(prefix="/v1/auth", tags=["auth"])


@router.get("/nonce", response_model=NonceOut)
def get_nonce(db: DbDep, services: ServicesDep) -> NonceOut:
    """A single-use nonce to put in the EIP-4361 message."""
    row = issue_nonce(db, services.settings, services.clock())
    db.commit()
    return NonceOut(nonce=row.nonce, expires_at=row.expires_at)


@router.post("/siwe", response_model=SessionOut)
def sign_in(body: SiweIn, db: DbDep, services: ServicesDep) -> SessionOut:
    """Exchange a signed EIP-4361 message for a bearer session token."""
    now = services.clock()
    address = verify_sign_in(
        db, services.settings, body.message, body.signature, now, services.chain
    )
    account = get_or_create_account(db, address, now)
    token, row = open_session(db, account, now, services.settings.session_ttl_s)
    db.commit()
    return SessionOut(token=token, expires_at=row.expires_at, address=account.address)


@router.post("/logout", status_code=204)
def logout(session: CurrentSession, db: DbDep, services: ServicesDep) -> None:
    """End this session; its token stops working at once."""
    revoke_session(session, services.clock())
    db.commit()
