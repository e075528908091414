"""Platform escrow channels: set-up transactions, linking, the dev faucet, balance views."""

from __future__ import annotations

from typing import Any

from eth_account import Account as EthAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Query
from hexbytes import HexBytes
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception
from web3.logs import DISCARD

from studio.db.models import Account, Platform
from studio.deps import CurrentAccount, DbDep, PlatformKey, ServicesDep
from studio.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from studio.settlement import channels
from studio.settlement.chain import SettlementChain, answers_503, require_chain
from studio.settlement.schemas import (
    ChannelLinkIn,
    ChannelOut,
    ChannelSetupOut,
    FaucetIn,
    FaucetOut,
    TxStep,
)

router = APIRouter(prefix="/v1/channels", tags=["channels"])
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
RECEIPT_TIMEOUT_S = 30


class ChannelConsoleOut(ChannelOut):
    """The channel as the platform console shows it: with the chain's clock, so the timed
    exit's countdown is counted in chain time."""

    chain_time: int = Field(description="Unix seconds of the latest block")
    withdrawal_delay_s: int


class TxParamsOut(BaseModel):
    """What a wallet needs to sign one set-up step itself (EIP-1559 transaction)."""

    chain_id: int
    sender: str
    to: str
    nonce: int
    gas: str
    max_fee_per_gas: str = Field(description="wei")
    max_priority_fee_per_gas: str = Field(description="wei")


class RawTxIn(BaseModel):
    raw: str = Field(
        pattern=r"^0x[0-9a-fA-F]{2,65536}$", description="A signed EIP-1559 transaction"
    )


class TxOutcomeOut(BaseModel):
    tx_hash: str
    succeeded: bool
    channel_id: str | None = Field(description="The channel it opened (ChannelOpened), if any")


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
        chain_time=_chain_time(chain),
        withdrawal_delay_s=chain.deployment.withdrawal_delay_s,
    )


@answers_503
def _chain_time(chain: SettlementChain) -> int:
    return int(chain.w3.eth.get_block("latest")["timestamp"])


def _set_up_target(chain: SettlementChain, to: str) -> str:
    """Set-up steps go to the escrow or the token; nothing else is signed or relayed here."""
    d = chain.deployment
    target = to_checksum_address(to)
    if target not in (to_checksum_address(d.escrow), to_checksum_address(d.token)):
        raise Forbidden(
            "Only transactions to the escrow or the token are handled here.", code="bad_target"
        )
    return target


@answers_503
def _tx_params(chain: SettlementChain, platform: Platform, to: str, data: str) -> TxParamsOut:
    target = _set_up_target(chain, to)
    sender = to_checksum_address(platform.wallet_address)
    eth = chain.w3.eth
    try:
        gas = eth.estimate_gas({"from": sender, "to": target, "data": data})  # type: ignore[typeddict-item]
    except (ContractLogicError, ValueError) as exc:
        raise Unprocessable(
            "This transaction would fail on-chain (is the wallet funded, is the step's "
            "order right?).",
            code="tx_would_revert",
            detail={"reason": str(exc)[:200]},
        ) from exc
    tip = 10**9
    base = int(eth.get_block("latest").get("baseFeePerGas", 0))
    return TxParamsOut(
        chain_id=chain.deployment.chain_id,
        sender=sender,
        to=target,
        nonce=eth.get_transaction_count(sender, "pending"),
        gas=str(gas * 12 // 10),
        max_fee_per_gas=str(2 * base + tip),
        max_priority_fee_per_gas=str(tip),
    )


@answers_503
def _broadcast(chain: SettlementChain, platform: Platform, raw_hex: str) -> TxOutcomeOut:
    raw = bytes.fromhex(raw_hex[2:])
    try:
        tx: dict[str, Any] = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        sender = EthAccount.recover_transaction(raw)
    except Exception as exc:  # eth-account raises several types for malformed bytes
        raise BadRequest("Not a signed EIP-1559 transaction.", code="bad_transaction") from exc
    if sender.lower() != platform.wallet_address.lower():
        raise Forbidden("The transaction is not signed by the platform's wallet.", code="not_owner")
    if int(tx.get("chainId", 0)) != chain.deployment.chain_id:
        raise BadRequest("The transaction is for another chain.", code="wrong_chain")
    if not tx.get("to"):
        raise Forbidden("Contract creations are not relayed here.", code="bad_target")
    _set_up_target(chain, "0x" + bytes(tx["to"]).hex())
    try:
        tx_hash = chain.w3.eth.send_raw_transaction(raw)
        receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except TimeExhausted as exc:
        raise ServiceUnavailable(
            "The transaction was sent but not mined yet; reload shortly.", code="tx_not_mined"
        ) from exc
    except (ValueError, Web3Exception) as exc:
        raise BadRequest(
            "The chain refused the transaction.",
            code="tx_refused",
            detail={"reason": str(exc)[:200]},
        ) from exc
    escrow = chain.contracts.escrow
    opened = [
        e
        # Only the escrow's logs: a token's Approval/Transfer would not match the ABI.
        for e in escrow.events.ChannelOpened().process_receipt(
            {**receipt, "logs": [x for x in receipt["logs"] if x["address"] == escrow.address]},
            errors=DISCARD,
        )
        if str(e["args"]["owner"]).lower() == sender.lower()
    ]
    return TxOutcomeOut(
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        succeeded=receipt["status"] == 1,
        channel_id=str(int(opened[0]["args"]["channelId"])) if opened else None,
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
    return _tx_params(require_chain(services), _my_platform(db, account), to, data)


@router.post("/transactions", response_model=TxOutcomeOut)
def send_transaction(
    body: RawTxIn, account: CurrentAccount, db: DbDep, services: ServicesDep
) -> TxOutcomeOut:
    """Broadcast a set-up step the platform's wallet signed (to the escrow or the token) and
    wait for it to be mined; says whether it succeeded and which channel it opened."""
    return _broadcast(require_chain(services), _my_platform(db, account), body.raw)


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
