"""Sending contract transactions and calls with reverts decoded into ContractError."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
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


class TransactionPending(TimeoutError):
    """A transaction of ``sender`` is sent but not mined: we waited the bounded time for it, or
    an earlier one still holds the account's next nonce (then nothing new is sent, so a resumed
    operation never sends twice). A TimeoutError (an OSError): callers treat the chain as
    unavailable for now, retry later, and read the chain before sending again."""

    def __init__(self, sender: str, nonce: int, tx_hash: str | None) -> None:
        self.sender, self.nonce, self.tx_hash = sender, nonce, tx_hash
        what = f"transaction {tx_hash}" if tx_hash else "an earlier transaction"
        super().__init__(f"{what} from {sender} (nonce {nonce}) is not mined yet")


GAS_MARGIN_PCT = 20
# How long to wait for a receipt. A relayed transaction normally lands in a block or two; one
# that takes longer is reported (TransactionPending) rather than waited on for minutes.
RECEIPT_TIMEOUT_S = 30.0


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
    signs here. A revert raises the decoded :class:`ContractError` subclass; a transaction not
    mined within ``RECEIPT_TIMEOUT_S``, or an earlier one of ``sender`` still unmined (then
    nothing is sent), raises :class:`TransactionPending`.
    """
    address = Web3.to_checksum_address(sender_address(sender))
    params: TxParams = {"from": address, "value": Wei(value)}
    if gas is not None:
        params["gas"] = gas
    mined = w3.eth.get_transaction_count(address, "latest")
    if w3.eth.get_transaction_count(address, "pending") > mined:
        # Sending now would queue behind it, or duplicate it when it is the same operation
        # resumed; the caller reads the chain again once it is mined.
        raise TransactionPending(address, mined, None)
    try:
        if gas is None:
            # Margin over the estimate: state can change between estimate and inclusion (e.g.
            # an epoch boundary makes a registration write one more slot).
            params["gas"] = fn.estimate_gas(params) * (100 + GAS_MARGIN_PCT) // 100
        params["nonce"] = mined
        if isinstance(sender, str):
            tx_hash = fn.transact(params)
        else:
            tx = fn.build_transaction(params)
            signed = sender.sign_transaction(tx)  # type: ignore[arg-type]
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except (ContractLogicError, Web3RPCError) as exc:
        _raise_decoded(exc)
        raise
    try:
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT_S)
    except TimeExhausted as exc:
        raise TransactionPending(address, mined, tx_hash.to_0x_hex()) from exc
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


__all__ = [
    "Sender",
    "TransactionPending",
    "TransactionReverted",
    "call",
    "sender_address",
    "transact",
]
