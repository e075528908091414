"""The settlement's on-chain steps, each safe to run again after a crash. Base units.

Every step reads the chain first and sends only what is still missing, so killing the process
at any point and running the step again finishes it without a second payment or a second root:

* :func:`claim_latest_vouchers` skips vouchers whose ``seq`` the escrow has already redeemed
  (``lastSeq``); if a claim transaction is mined twice anyway, the contract rejects the second
  copy's vouchers as stale and pays nothing.
* :func:`propose_root_once` proposes only while the distributor still expects this epoch
  (``nextEpoch() <= epoch``); if the root is already there it checks that it is the same root.

If a process dies after sending a transaction that is still pending, the next run may send a
duplicate: the duplicate claim redeems nothing (stale vouchers), the duplicate proposal reverts
(``EpochNotIncreasing`` / ``RootAlreadyPending``) and the run after that finds the root.

Reads used by the settlement to build its inputs: :func:`channel_claimed`,
:class:`TermsReader`; :func:`erc1271_checker` for contract-wallet voucher signers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.logs import DISCARD

from contracts.eip712 import Voucher
from contracts.errors import decode_revert
from contracts.transact import Sender, transact
from royalties.errors import ChainError
from royalties.payouts import Payouts
from royalties.splits import Terms


def struct_call(fn: ContractFunction) -> dict[str, Any]:
    """Calls a view returning one struct and names its fields as the ABI does (``lastSeq``,
    ``claimed``, ``payout``...): names, not positions, so a repacked struct shifts nothing."""
    names = [c["name"] for c in fn.abi["outputs"][0]["components"]]
    return dict(zip(names, fn.call(), strict=True))


def channel_state(escrow: Contract, channel_id: int) -> dict[str, Any]:
    """``PlayEscrow.getChannel`` by field name (amounts in base units)."""
    return struct_call(escrow.functions.getChannel(channel_id))


def channel_claimed(escrow: Contract, channel_ids: Iterable[int]) -> dict[int, int]:
    """Each channel's cumulative amount redeemed on-chain."""
    return {c: int(channel_state(escrow, c)["claimed"]) for c in channel_ids}


@dataclass(frozen=True)
class ClaimResult:
    """What :func:`claim_latest_vouchers` did: transactions sent, base units redeemed per
    channel by them, channels rejected (with the decoded reason) and channels skipped because
    their voucher was already redeemed."""

    tx_hashes: tuple[bytes, ...]
    redeemed: Mapping[int, int]
    rejected: Mapping[int, str]
    skipped: tuple[int, ...]


def claim_latest_vouchers(
    w3: Web3, escrow: Contract, sender: Sender, vouchers: Sequence[tuple[Voucher, bytes]]
) -> ClaimResult:
    """Redeems each channel's latest voucher in ``PlayEscrow.claim`` batches of at most
    ``MAX_CLAIM_BATCH``; vouchers already redeemed on-chain are skipped (no transaction at all
    when nothing is left)."""
    latest: dict[int, tuple[Voucher, bytes]] = {}
    for voucher, signature in vouchers:
        held = latest.get(voucher.channel_id)
        if held is None or voucher.seq > held[0].seq:
            latest[voucher.channel_id] = (voucher, signature)
    pending: list[tuple[Voucher, bytes]] = []
    skipped: list[int] = []
    for channel_id in sorted(latest):
        voucher, signature = latest[channel_id]
        if voucher.seq <= int(channel_state(escrow, channel_id)["lastSeq"]):
            skipped.append(channel_id)
        else:
            pending.append((voucher, signature))
    batch = int(escrow.functions.MAX_CLAIM_BATCH().call())
    hashes: list[bytes] = []
    redeemed: dict[int, int] = {}
    rejected: dict[int, str] = {}
    for start in range(0, len(pending), batch):
        chunk = [v.as_tuple(sig) for v, sig in pending[start : start + batch]]
        receipt = transact(w3, escrow.functions.claim(chunk), sender)
        hashes.append(bytes(receipt["transactionHash"]))
        for event in escrow.events.VoucherRedeemed().process_receipt(receipt, errors=DISCARD):
            redeemed[int(event["args"]["channelId"])] = int(event["args"]["amount"])
        for event in escrow.events.VoucherRejected().process_receipt(receipt, errors=DISCARD):
            error = decode_revert(bytes(event["args"]["reason"]))
            rejected[int(event["args"]["channelId"])] = str(error)
    return ClaimResult(tuple(hashes), redeemed, rejected, tuple(skipped))


@dataclass(frozen=True)
class ProposeResult:
    """``tx_hash`` of the proposal, or None when the root of this epoch was already there."""

    tx_hash: bytes | None
    ready_at: int


def propose_root_once(
    w3: Web3,
    distributor: Contract,
    sender: Sender,
    payouts: Payouts,
    report_hash: bytes,
    *,
    from_block: int = 0,
) -> ProposeResult:
    """Proposes ``payouts``' root for its epoch unless it is already proposed.

    Raises ChainError when a *different* root stands for the epoch, when a later epoch was
    already proposed, when the guardian vetoed this very root (a person must look), or when the
    distributor's ``totalAllocated`` is not the ``previous_total`` the payouts were built on
    (rebuild them from fresh chain state). ``from_block``: where to start reading events (the
    deployment's block).
    """
    fn = distributor.functions
    epoch = payouts.epoch
    standing = _last_proposal(distributor, epoch, from_block)
    if int(fn.nextEpoch().call()) > epoch:
        if standing is None:
            raise ChainError(f"a later epoch than {epoch} was proposed; epoch {epoch} is closed")
        if bytes(standing["root"]) != payouts.root:
            raise ChainError(
                f"epoch {epoch} already has root 0x{bytes(standing['root']).hex()}, "
                f"not 0x{payouts.root.hex()}"
            )
        return ProposeResult(None, int(standing["readyAt"]))
    if standing is not None and bytes(standing["root"]) == payouts.root:
        raise ChainError(f"the guardian vetoed root 0x{payouts.root.hex()} of epoch {epoch}")
    allocated = int(fn.totalAllocated().call())
    if allocated != payouts.previous_total:
        raise ChainError(
            f"payouts of epoch {epoch} assume {payouts.previous_total} allocated; "
            f"the distributor has {allocated}"
        )
    receipt = transact(
        w3, fn.proposeRoot(epoch, payouts.root, payouts.epoch_total, report_hash), sender
    )
    events = distributor.events.RootProposed().process_receipt(receipt, errors=DISCARD)
    return ProposeResult(bytes(receipt["transactionHash"]), int(events[0]["args"]["readyAt"]))


def _last_proposal(distributor: Contract, epoch: int, from_block: int) -> Any:
    logs = distributor.events.RootProposed.get_logs(
        from_block=from_block, argument_filters={"epoch": epoch}
    )
    return logs[-1]["args"] if logs else None


class TermsReader:
    """The terms a track's plays in an epoch are split with, read from ``VoiceRegistry``: the
    model's terms version in force in that epoch, the track's fan and the treasury. Caches what
    cannot change (a track's model and fan, a model's version list per epoch) so that an epoch
    of many tracks of few models costs few calls."""

    def __init__(self, registry: Contract) -> None:
        self._fn = registry.functions
        self._tracks: dict[bytes, tuple[bytes, str]] = {}
        self._versions: dict[tuple[bytes, int], tuple[int, dict[str, Any]]] = {}
        self._treasury: str | None = None

    def terms(self, track_id: bytes, epoch: int) -> Terms:
        """The :class:`Terms` of ``track_id`` in force in ``epoch``."""
        if track_id not in self._tracks:
            track = struct_call(self._fn.getTrack(track_id))
            if int(track["fan"], 16) == 0:
                raise ChainError(f"track 0x{track_id.hex()} is not registered")
            self._tracks[track_id] = (bytes(track["modelId"]), track["fan"])
        model_id, fan = self._tracks[track_id]
        key = (model_id, epoch)
        if key not in self._versions:
            in_force = struct_call(self._fn.termsAt(model_id, epoch))
            count = int(self._fn.termsVersionCount(model_id).call())
            version = next(
                v
                for v in range(count - 1, -1, -1)
                if struct_call(self._fn.termsVersion(model_id, v)) == in_force
            )
            self._versions[key] = (version, in_force)
        version, t = self._versions[key]
        if self._treasury is None:
            self._treasury = to_checksum_address(self._fn.treasury().call())
        return Terms(
            version=version,
            creator=t["payout"],
            fan=fan,
            treasury=self._treasury,
            creator_bps=t["creatorBps"],
            fan_bps=t["fanBps"],
            platform_bps=t["platformBps"],
        )


ERC1271_MAGIC = bytes.fromhex("1626ba7e")  # IERC1271.isValidSignature.selector
ERC1271_GAS_LIMIT = 50_000
"""Gas a contract signer may use to answer, as PlayEscrow allows (its ERC1271_GAS_LIMIT): a
wallet the escrow would refuse for running out of gas is refused here too."""


def erc1271_checker(w3: Web3) -> Callable[[str, bytes, bytes], bool]:
    """A ``(signer, digest, signature) -> bool`` check for contract-wallet voucher signers
    (:func:`royalties.vouchers.accept_voucher`'s ``erc1271``): an ``eth_call`` of
    ``isValidSignature`` with at most :data:`ERC1271_GAS_LIMIT` gas; any revert, short answer
    or wrong magic value is a refusal."""

    def check(signer: str, digest: bytes, signature: bytes) -> bool:
        data = ERC1271_MAGIC + encode(["bytes32", "bytes"], [digest, signature])
        try:
            answer = w3.eth.call(
                {"to": to_checksum_address(signer), "data": data, "gas": ERC1271_GAS_LIMIT}
            )
        except (ContractLogicError, Web3RPCError, ValueError):
            return False
        return len(answer) >= 32 and bytes(answer[:4]) == ERC1271_MAGIC

    return check
