"""Platform escrow channels: set-up transactions, linking, the dev faucet, balance views."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from studio.db.models import Account, Platform
from studio.deps import CurrentAccount, DbDep, PlatformKey, ServicesDep
from studio.errors import NotFound
from studio.settlement import channel_transactions, channels
from studio.settlement.chain import require_chain
from studio.settlement.schemas import (
    ChannelConsoleOut,
    ChannelLinkIn,
    ChannelOut,
    ChannelSetupOut,
    FaucetIn,
    FaucetOut,
    RawTxIn,
    TxOutcomeOut,
    TxParamsOut,
    TxStep,
)

router = APIRouter(prefix="/v1/channels", tags=["channels"])
ADDRESS = r"^0x[0-9a-fA-F]{40}$"


def _my_platform(db: Session, account: Account) -> Platform:
    platform = db.scalars(select(Platform).where(Platform.owner_id == account.id)).first()
    if platform is None:
        raise NotFound("Register a platform first (POST /v1/platforms).", code="no_platform")
    return platform


@router.get("/setup", response_model=ChannelSetupOut)
def setup(
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
    amount: str = Query(default="0", pattern=r"^[0-9]{1,77}$", description="Base units"),
) -> ChannelSetupOut:
    """The transactions the platform's wallet signs and sends to open or fund its channel."""
    return channels.setup_steps(require_chain(services), _my_platform(db, account), int(amount))


@router.post("/link", response_model=ChannelOut)
def link(
    body: ChannelLinkIn, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> ChannelOut:
    """Bind the channel the wallet opened to its platform."""
    chain = require_chain(services)
    platform = _my_platform(db, account)
    channels.link(db, chain, platform, int(body.channel_id))
    db.commit()
    return channels.view(db, chain, platform)


@router.post("/faucet", response_model=FaucetOut)
def faucet(body: FaucetIn, account: CurrentAccount, db: DbDep, services: ServicesDep) -> FaucetOut:
    """Dev chains only: mint test stablecoin to the platform's wallet."""
    return channels.faucet(require_chain(services), _my_platform(db, account), int(body.amount))


@router.get("/mine", response_model=ChannelConsoleOut)
def mine(account: CurrentAccount, db: DbDep, services: ServicesDep) -> ChannelConsoleOut:
    """The signed-in platform owner's channel: balance and pending liability."""
    chain = require_chain(services)
    view = channels.view(db, chain, _my_platform(db, account))
    return ChannelConsoleOut(
        **view.model_dump(),
        chain_time=channel_transactions.chain_time(chain),
        withdrawal_delay_s=chain.deployment.withdrawal_delay_s,
    )


@router.get("/transaction-params", response_model=TxParamsOut)
def transaction_params(
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
    to: str = Query(pattern=ADDRESS),
    data: str = Query(pattern=r"^0x[0-9a-fA-F]{0,20000}$"),
) -> TxParamsOut:
    """Nonce, gas and fees for the platform's wallet to sign one set-up step (``to`` the
    escrow or the token) itself: for wallets that sign but do not send, such as the demo
    wallets of the web app."""
    return channel_transactions.transaction_params(
        require_chain(services), _my_platform(db, account), to, data
    )


@router.post("/transactions", response_model=TxOutcomeOut)
def send_transaction(
    body: RawTxIn, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> TxOutcomeOut:
    """Broadcast a set-up step the platform's wallet signed (to the escrow or the token) and
    wait for it to be mined; says whether it succeeded and which channel it opened."""
    return channel_transactions.broadcast(
        require_chain(services), _my_platform(db, account), body.raw
    )


@router.get("/current", response_model=ChannelOut)
def current(key: PlatformKey, db: DbDep, services: ServicesDep) -> ChannelOut:
    """The API key's platform channel (X-API-Key)."""
    platform = db.get(Platform, key.platform_id)
    assert platform is not None
    return channels.view(db, require_chain(services), platform)


@router.get("/withdrawal", response_model=list[TxStep])
def withdrawal(
    account: CurrentAccount,
    db: DbDep,
    services: ServicesDep,
    amount: str = Query(default="0", pattern=r"^[0-9]{1,77}$", description="Base units"),
) -> list[TxStep]:
    """The transactions of the timed exit (request, cancel, execute) for the wallet to send."""
    return channels.withdrawal_steps(
        require_chain(services), _my_platform(db, account), int(amount)
    )
