"""Every custom error of the Timbre contracts as a Python exception, and a revert decoder.

One base class, :class:`ContractError`; each subclass also inherits the builtin that matches its
meaning (``PermissionError`` for access checks, ``LookupError`` for unknown ids, ``ValueError``
for the rest), so callers can catch either. ``decode_revert`` turns revert data (4-byte selector
plus ABI-encoded arguments) into an instance carrying the decoded values. A test checks that every
error in the committed ABIs has a class here with the same signature.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

_BY_SELECTOR: dict[bytes, type[ContractError]] = {}


class ContractError(Exception):
    """A contract call reverted. ``values`` are the decoded arguments in ABI order."""

    signature: ClassVar[str] = ""
    fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *values: Any) -> None:
        self.values = values
        detail = ", ".join(f"{n}={v!r}" for n, v in zip(self.fields, values, strict=False))
        super().__init__(f"{type(self).__name__}({detail})")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.signature:
            _BY_SELECTOR[cls.selector()] = cls

    @classmethod
    def selector(cls) -> bytes:
        """The 4-byte selector of the error's signature."""
        return keccak(text=cls.signature)[:4]

    @classmethod
    def arg_types(cls) -> list[str]:
        """The ABI types of the error's arguments."""
        inner = cls.signature[cls.signature.index("(") + 1 : -1]
        return [t for t in inner.split(",") if t]

    @property
    def kwargs(self) -> dict[str, Any]:
        """The decoded arguments by (snake_case) name."""
        return dict(zip(self.fields, self.values, strict=True))

    def encode(self) -> bytes:
        """The revert data this error would carry (selector + ABI-encoded values)."""
        from eth_abi.abi import encode

        return self.selector() + encode(self.arg_types(), list(self.values))


class RevertedWithReason(ContractError, ValueError):
    """``revert("...")`` / ``require(..., "...")``: Error(string)."""

    signature = "Error(string)"
    fields = ("reason",)


class Panicked(ContractError, ArithmeticError):
    """A Solidity panic (overflow, division by zero, bad array index...): Panic(uint256)."""

    signature = "Panic(uint256)"
    fields = ("code",)


class UnknownContractError(ContractError):
    """Revert data no known error matches (``values`` holds the raw bytes, maybe empty)."""

    fields = ("data",)


class AccessControlBadConfirmation(ContractError, PermissionError):
    """Raised by PlayEscrow, RoyaltyDistributor, VoiceRegistry."""

    signature = "AccessControlBadConfirmation()"
    fields = ()


class AccessControlUnauthorizedAccount(ContractError, PermissionError):
    """Raised by PlayEscrow, RoyaltyDistributor, VoiceRegistry."""

    signature = "AccessControlUnauthorizedAccount(address,bytes32)"
    fields = ("account", "needed_role")


class BatchTooLarge(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "BatchTooLarge(uint256,uint256)"
    fields = ("length", "max")


class ChallengeWindowOver(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "ChallengeWindowOver(uint64,uint64)"
    fields = ("epoch", "ready_at")


class CumulativeBelowClaimed(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "CumulativeBelowClaimed(uint256,uint256,uint256)"
    fields = ("channel_id", "cumulative_amount", "claimed")


class ECDSAInvalidSignature(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "ECDSAInvalidSignature()"
    fields = ()


class ECDSAInvalidSignatureLength(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "ECDSAInvalidSignatureLength(uint256)"
    fields = ("length",)


class ECDSAInvalidSignatureS(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "ECDSAInvalidSignatureS(bytes32)"
    fields = ("s",)


class ERC20InsufficientAllowance(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InsufficientAllowance(address,uint256,uint256)"
    fields = ("spender", "allowance", "needed")


class ERC20InsufficientBalance(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InsufficientBalance(address,uint256,uint256)"
    fields = ("sender", "balance", "needed")


class ERC20InvalidApprover(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InvalidApprover(address)"
    fields = ("approver",)


class ERC20InvalidReceiver(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InvalidReceiver(address)"
    fields = ("receiver",)


class ERC20InvalidSender(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InvalidSender(address)"
    fields = ("sender",)


class ERC20InvalidSpender(ContractError, ValueError):
    """Raised by FeeOnTransferToken, ReentrantToken, TestUSD."""

    signature = "ERC20InvalidSpender(address)"
    fields = ("spender",)


class ERC2612ExpiredSignature(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "ERC2612ExpiredSignature(uint256)"
    fields = ("deadline",)


class ERC2612InvalidSigner(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "ERC2612InvalidSigner(address,address)"
    fields = ("signer", "owner")


class EmptyBatch(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "EmptyBatch()"
    fields = ()


class EpochNotEnded(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "EpochNotEnded(uint64,uint64)"
    fields = ("epoch", "current")


class EpochNotIncreasing(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "EpochNotIncreasing(uint64,uint64)"
    fields = ("epoch", "minimum")


class ExceedsAllocated(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "ExceedsAllocated(uint256,uint256)"
    fields = ("claimed_after", "allocated")


class ExceedsReceived(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "ExceedsReceived(uint256,uint256)"
    fields = ("allocated", "received")


class ExceedsSurplus(ContractError, ValueError):
    """Raised by PlayEscrow, RoyaltyDistributor."""

    signature = "ExceedsSurplus(uint256,uint256)"
    fields = ("amount", "surplus")


class FaucetLimitExceeded(ContractError, ValueError):
    """Raised by TestUSD."""

    signature = "FaucetLimitExceeded(uint256,uint256)"
    fields = ("requested", "limit")


class FeeOnTransferToken(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "FeeOnTransferToken(address,uint256,uint256)"
    fields = ("token", "expected", "received")


class FundingMismatch(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "FundingMismatch(uint256,uint256)"
    fields = ("expected", "received")


class InsufficientBalance(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "InsufficientBalance(uint256,uint256,uint256)"
    fields = ("channel_id", "required", "available")


class InvalidAccountNonce(ContractError, ValueError):
    """Raised by TestUSD, VoiceRegistry."""

    signature = "InvalidAccountNonce(address,uint256)"
    fields = ("account", "current_nonce")


class InvalidEpochConfig(ContractError, ValueError):
    """Raised by RoyaltyDistributor, VoiceRegistry."""

    signature = "InvalidEpochConfig(uint64,uint64)"
    fields = ("genesis", "length")


class InvalidProof(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "InvalidProof(address,uint256)"
    fields = ("account", "cumulative_amount")


class InvalidShares(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "InvalidShares(uint16,uint16,uint16)"
    fields = ("creator_bps", "fan_bps", "platform_bps")


class InvalidShortString(ContractError, ValueError):
    """Raised by PlayEscrow, TestUSD, VoiceRegistry."""

    signature = "InvalidShortString()"
    fields = ()


class InvalidSignature(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "InvalidSignature(address)"
    fields = ("signer",)


class InvalidVoucherSignature(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "InvalidVoucherSignature(uint256,address)"
    fields = ("channel_id", "signer")


class MetadataURITooLong(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "MetadataURITooLong(uint256,uint256)"
    fields = ("length", "max")


class ModelAlreadyRegistered(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "ModelAlreadyRegistered(bytes32)"
    fields = ("model_id",)


class ModelIsRetired(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "ModelIsRetired(bytes32)"
    fields = ("model_id",)


class NoActiveRoot(ContractError, LookupError):
    """Raised by RoyaltyDistributor."""

    signature = "NoActiveRoot()"
    fields = ()


class NoPendingRoot(ContractError, LookupError):
    """Raised by RoyaltyDistributor."""

    signature = "NoPendingRoot(uint64)"
    fields = ("epoch",)


class NoTermsAtEpoch(ContractError, LookupError):
    """Raised by VoiceRegistry."""

    signature = "NoTermsAtEpoch(bytes32,uint64)"
    fields = ("model_id", "epoch")


class NoWithdrawalPending(ContractError, LookupError):
    """Raised by PlayEscrow."""

    signature = "NoWithdrawalPending(uint256)"
    fields = ("channel_id",)


class NotAccount(ContractError, PermissionError):
    """Raised by RoyaltyDistributor."""

    signature = "NotAccount(address,address)"
    fields = ("caller", "account")


class NotChannelOwner(ContractError, PermissionError):
    """Raised by PlayEscrow."""

    signature = "NotChannelOwner(uint256,address)"
    fields = ("channel_id", "caller")


class NotCreator(ContractError, PermissionError):
    """Raised by VoiceRegistry."""

    signature = "NotCreator(bytes32,address)"
    fields = ("model_id", "caller")


class NotFanOrRegistrar(ContractError, PermissionError):
    """Raised by VoiceRegistry."""

    signature = "NotFanOrRegistrar(address,address)"
    fields = ("caller", "fan")


class NothingToClaim(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "NothingToClaim(address,uint256,uint256)"
    fields = ("account", "cumulative_amount", "already_claimed")


class ProofTooLong(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "ProofTooLong(uint256,uint256)"
    fields = ("length", "max")


class ReentrancyGuardReentrantCall(ContractError, ValueError):
    """Raised by PlayEscrow, RoyaltyDistributor."""

    signature = "ReentrancyGuardReentrantCall()"
    fields = ()


class RootAlreadyPending(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "RootAlreadyPending(uint64)"
    fields = ("pending_epoch",)


class SafeCastOverflowedUintDowncast(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "SafeCastOverflowedUintDowncast(uint8,uint256)"
    fields = ("bits", "value")


class SafeERC20FailedOperation(ContractError, ValueError):
    """Raised by PlayEscrow, RoyaltyDistributor."""

    signature = "SafeERC20FailedOperation(address)"
    fields = ("token",)


class SignatureExpired(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "SignatureExpired(uint256,uint256)"
    fields = ("deadline", "timestamp")


class StaleVoucher(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "StaleVoucher(uint256,uint64,uint64)"
    fields = ("channel_id", "seq", "last_seq")


class StringTooLong(ContractError, ValueError):
    """Raised by PlayEscrow, TestUSD, VoiceRegistry."""

    signature = "StringTooLong(string)"
    fields = ("str",)


class TokenMismatch(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "TokenMismatch(uint256,address)"
    fields = ("channel_id", "token")


class TokenNotAllowed(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "TokenNotAllowed(address)"
    fields = ("token",)


class TrackAlreadyRegistered(ContractError, ValueError):
    """Raised by VoiceRegistry."""

    signature = "TrackAlreadyRegistered(bytes32)"
    fields = ("content_hash",)


class UnbackedFunding(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "UnbackedFunding(uint256,uint256)"
    fields = ("amount", "unaccounted")


class UnknownChannel(ContractError, LookupError):
    """Raised by PlayEscrow."""

    signature = "UnknownChannel(uint256)"
    fields = ("channel_id",)


class UnknownModel(ContractError, LookupError):
    """Raised by VoiceRegistry."""

    signature = "UnknownModel(bytes32)"
    fields = ("model_id",)


class UnknownTrack(ContractError, LookupError):
    """Raised by VoiceRegistry."""

    signature = "UnknownTrack(bytes32)"
    fields = ("content_hash",)


class WithdrawalNotReady(ContractError, ValueError):
    """Raised by PlayEscrow."""

    signature = "WithdrawalNotReady(uint256,uint64,uint256)"
    fields = ("channel_id", "ready_at", "timestamp")


class ZeroAddress(ContractError, ValueError):
    """Raised by PlayEscrow, RoyaltyDistributor, VoiceRegistry."""

    signature = "ZeroAddress()"
    fields = ()


class ZeroAmount(ContractError, ValueError):
    """Raised by PlayEscrow, RoyaltyDistributor."""

    signature = "ZeroAmount()"
    fields = ()


class ZeroRoot(ContractError, ValueError):
    """Raised by RoyaltyDistributor."""

    signature = "ZeroRoot()"
    fields = ()


def error_by_selector(selector: bytes) -> type[ContractError] | None:
    """The error class whose selector is ``selector``, or None."""
    return _BY_SELECTOR.get(bytes(selector))


def decode_revert(data: bytes | str) -> ContractError:
    """Decodes revert data (bytes or 0x-hex) into the matching :class:`ContractError`."""
    raw = bytes.fromhex(data.removeprefix("0x")) if isinstance(data, str) else bytes(data)
    cls = _BY_SELECTOR.get(raw[:4]) if len(raw) >= 4 else None
    if cls is None:
        return UnknownContractError(raw)
    try:
        values = decode(cls.arg_types(), raw[4:])
    except Exception:  # noqa: BLE001 - malformed arguments are themselves "unknown" data
        return UnknownContractError(raw)
    types = cls.arg_types()
    return cls(
        *(
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, values, strict=True)
        )
    )


def all_errors() -> dict[bytes, type[ContractError]]:
    """Every known error class by selector."""
    return dict(_BY_SELECTOR)
