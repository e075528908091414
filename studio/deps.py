"""Dependencies shared by every route, declared once: services, database session, the signed-in
account, role checks and the platform behind an API key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from studio.auth.api_keys import resolve_api_key
from studio.auth.sessions import Caller, resolve_caller, resolve_session
from studio.db.models import Account, ApiKey
from studio.db.models import Session as SessionRow
from studio.errors import Forbidden, Unauthorized
from studio.services import Services


# Dependencies that do no I/O are ``async def``: FastAPI runs plain ``def`` ones in the thread
# pool, and a thread hop per dependency costs more than the work itself.
async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_db(services: ServicesDep) -> Iterator[Session]:
    # Routes commit explicitly; anything left uncommitted is rolled back on close.
    with services.db() as session:
        yield session


DbDep = Annotated[Session, Depends(get_db)]


async def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    return parse_bearer(authorization)


def parse_bearer(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized("Sign in first (Authorization: Bearer <token>).", code="not_signed_in")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <token>'.", code="not_signed_in")
    return token.strip()


def current_session(
    db: DbDep, services: ServicesDep, token: Annotated[str, Depends(bearer_token)]
) -> SessionRow:
    return resolve_session(db, token, services.clock())


CurrentSession = Annotated[SessionRow, Depends(current_session)]


def current_caller(services: ServicesDep, token: Annotated[str, Depends(bearer_token)]) -> Caller:
    """Who is calling, for routes that need nothing else: one Core statement on a pooled
    connection (no ORM session), one hop to the thread pool (CurrentSession costs three)."""
    with services.engine.connect() as conn:
        return resolve_caller(conn, token, services.clock())


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def current_account(session: CurrentSession) -> Account:
    return session.account


CurrentAccount = Annotated[Account, Depends(current_account)]


def optional_account(
    db: DbDep, services: ServicesDep, authorization: Annotated[str | None, Header()] = None
) -> Account | None:
    """The signed-in account on public routes that show more to the owner; None if anonymous."""
    if not authorization:
        return None
    return resolve_session(db, parse_bearer(authorization), services.clock()).account


OptionalAccount = Annotated[Account | None, Depends(optional_account)]


def require_role(*roles: str) -> Callable[[Account], Awaitable[Account]]:
    """A dependency admitting a signed-in account holding at least one of ``roles``."""

    async def check(account: CurrentAccount) -> Account:
        if not set(roles) & set(account.role_names):
            raise Forbidden(
                f"This needs the {' or '.join(roles)} role.",
                code="role_required",
                detail={"required": list(roles), "have": account.role_names},
            )
        return account

    return check


CreatorOrFan = Annotated[Account, Depends(require_role("creator", "fan"))]
Creator = Annotated[Account, Depends(require_role("creator"))]
Fan = Annotated[Account, Depends(require_role("fan"))]


def api_key_secret(x_api_key: str | None) -> str:
    """The X-API-Key header's value; 401 no_api_key when it is missing or empty."""
    if not x_api_key:
        raise Unauthorized("This route needs a platform API key (X-API-Key).", code="no_api_key")
    return x_api_key


def current_api_key(
    db: DbDep,
    services: ServicesDep,
    x_api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
) -> ApiKey:
    key = resolve_api_key(db, api_key_secret(x_api_key), services.clock())
    if db.dirty:
        db.commit()  # persist last_used_at
    return key


PlatformKey = Annotated[ApiKey, Depends(current_api_key)]
