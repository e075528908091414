"""The signed-in account."""

from __future__ import annotations

from fastapi import APIRouter

from studio.db.models import AccountRole
from studio.deps import CurrentAccount, CurrentCaller, CurrentSession, DbDep, ServicesDep
from studio.schemas import MeOut, RoleIn

router = APIRouter(prefix="/v1/me", tags=["account"])


@router.get("", response_model=MeOut)
async def get_me(caller: CurrentCaller) -> MeOut:
    """The signed-in account. Every page of the web app asks this first: it resolves the
    session with one Core statement (CurrentCaller), not through the ORM."""
    return MeOut(
        id=caller.account_id,
        address=caller.address,
        roles=list(caller.roles),
        session_expires_at=caller.expires_at,
    )


@router.post("/roles", response_model=MeOut)
def add_role(
    body: RoleIn, account: CurrentAccount, session: CurrentSession, db: DbDep, services: ServicesDep
) -> MeOut:
    """Opt in to the creator (or fan) role. The platform role comes with registering one."""
    if body.role not in account.role_names:
        account.roles.append(AccountRole(role=body.role, granted_at=services.clock()))
        db.commit()
    return MeOut(
        id=account.id,
        address=account.address,
        roles=account.role_names,
        session_expires_at=session.expires_at,
    )
