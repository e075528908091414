"""Sending contract transactions and calls with reverts decoded into ContractError."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxParams, TxReceipt, Wei

from contracts.errors import ContractError, decode_revert

Sender = str | LocalAccount


class TransactionReverted(ContractError):
    """A mined transaction failed without revert data we could recover."""

    fields = ("receipt",)


def _revert_data(exc: Exception) -> str | None:
    """The 0x-hex revert data web3 attached to ``exc``, if any."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    # A raw RPC error: {"code": 3, "message": "execution reverted: ...", "data": "0x..."}
    response = getattr(exc, "rpc_response", None)
    if isinstance(response, dict):
        err = response.get("error")
        if isinstance(err, dict) and isinstance(err.get("data"), str):
            return str(err["data"])
    return None


def _raise_decoded(exc: Exception) -> None:
    data = _revert_data(exc)
    if data is not None:
        raise decode_revert(data) from exc


GAS_MARGIN_PCT = 20


def sender_address(sender: Sender) -> str:
    """The address of an unlocked-account address or a local signing account."""
    return sender if isinstance(sender, str) else sender.address


def transact(
    w3: Web3,
    fn: ContractFunction | ContractConstructor,
    sender: Sender,
    *,
    gas: int | None = None,
    value: int = 0,
) -> TxReceipt:
    """Sends ``fn`` from ``sender`` and waits for the receipt.

    ``sender`` is an address unlocked on the node (anvil's dev accounts) or a LocalAccount that
    signs here. A revert raises the decoded :class:`ContractError` subclass.
    """
    params: TxParams = {
        "from": Web3.to_checksum_address(sender_address(sender)),
        "value": Wei(value),
    }
    if gas is not None:
        params["gas"] = gas
    try:
        if gas is None:
            # Margin over the estimate: state can change between estimate and inclusion (e.g.
            # an epoch boundary makes a registration write one more slot).
            params["gas"] = fn.estimate_gas(params) * (100 + GAS_MARGIN_PCT) // 100
        if isinstance(sender, str):
            tx_hash = fn.transact(params)
        else:
            params["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
            tx = fn.build_transaction(params)
            signed = sender.sign_transaction(tx)  # type: ignore[arg-type]
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except (ContractLogicError, Web3RPCError) as exc:
        _raise_decoded(exc)
        raise
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        _raise_replayed(w3, receipt)
    return receipt


def _raise_replayed(w3: Web3, receipt: TxReceipt) -> None:
    """A mined transaction failed (gas was given, so no estimate caught it): replay it as a
    call on the state before its block to recover the revert data."""
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    replay: TxParams = {"from": tx["from"], "data": tx["input"], "value": tx["value"]}
    if tx.get("to"):
        replay["to"] = tx["to"]
    try:
        w3.eth.call(replay, block_identifier=receipt["blockNumber"] - 1)
    except (ContractLogicError, Web3RPCError) as exc:
        data = _revert_data(exc)
        if data is not None:
            raise decode_revert(data) from exc
    raise TransactionReverted(receipt)


def call(fn: ContractFunction, *, sender: Sender | None = None, block: Any = "latest") -> Any:
    """Calls a view (or simulates a transaction) and decodes a revert."""
    params: TxParams = {}
    if sender is not None:
        params["from"] = Web3.to_checksum_address(sender_address(sender))
    try:
        return fn.call(params, block_identifier=block)
    except (ContractLogicError, Web3RPCError) as exc:
        _raise_decoded(exc)
        raise


__all__ = ["Sender", "TransactionReverted", "call", "sender_address", "transact"]
