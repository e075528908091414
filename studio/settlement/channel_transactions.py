"""Set-up transactions a platform's own wallet signs (open, approve, deposit, withdraw):
their gas and fee parameters, and relaying them once signed. Only transactions from the
platform's wallet to the escrow or the token are handled; the service signs nothing here."""

from __future__ import annotations

from typing import Any

from eth_account import Account as EthAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception
from web3.logs import DISCARD

from studio.db.models import Platform
from studio.errors import BadRequest, Forbidden, ServiceUnavailable, Unprocessable
from studio.settlement.chain import SettlementChain, answers_503
from studio.settlement.schemas import TxOutcomeOut, TxParamsOut

RECEIPT_TIMEOUT_S = 30


@answers_503
def chain_time(chain: SettlementChain) -> int:
    """Unix seconds of the latest block: the clock the escrow's timed exit counts in."""
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
def transaction_params(
    chain: SettlementChain, platform: Platform, to: str, data: str
) -> TxParamsOut:
    """Nonce, gas (estimate + 20 %) and EIP-1559 fees for the platform's wallet to sign one
    set-up step itself; 422 tx_would_revert when the estimate shows it would fail."""
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
def broadcast(chain: SettlementChain, platform: Platform, raw_hex: str) -> TxOutcomeOut:
    """Sends a set-up step the platform's wallet signed (to the escrow or the token only) and
    waits up to RECEIPT_TIMEOUT_S for its receipt."""
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
