"""Whether the platform's voucher pays for one more play: a pure state machine per channel.

The studio calls :func:`accept_voucher` on every ``POST /v1/access`` with the channel's state
(from SQL and the chain), the play asked for, the voucher and its signature; it stores the new
state and the usage record on :class:`Accepted`, or answers 4xx with the :class:`Reason` of a
:class:`Rejected`. Nothing changes on a rejection.

A voucher is accepted only when, checked cheapest first:

1. it names the channel (``wrong_channel``) and no withdrawal is pending on it
   (``withdrawal_pending``: vouchers signed now could outlive the channel's money);
2. its ``seq`` is above the last accepted one (``replay`` when it *is* the last accepted voucher
   sent again, ``stale_seq`` otherwise);
3. the play's ``timestamp`` is within :data:`MAX_CLOCK_SKEW_S` of the studio's clock and not
   before the previous play's (``bad_timestamp``): the log is in time order, so "plays up to
   the end of epoch N" is a prefix of it;
4. its ``cumulativeAmount`` is exactly every play charged so far plus this play's price
   (``underpaid`` / ``overpaid``). Exact, not "at least": then a channel's redeemed amount is
   the sum of the prices of the plays it covers, which is what makes
   ``sum(entitlements) + dust == sum(claimed)`` hold to the unit;
5. the channel can pay it: ``cumulativeAmount - claimedOnChain <= balance`` (``under_funded``;
   the same test ``PlayEscrow.claim`` applies);
6. its ``usageRoot`` is the root of the play log with this play appended
   (``usage_root_mismatch``; see :mod:`royalties.usage_log`);
7. its signature, in the escrow's EIP-712 domain (chain id + escrow address), recovers the
   channel's signer (``bad_signature`` when malformed or high-s, ``wrong_signer`` otherwise).
   A contract-wallet signer needs ``erc1271`` (an on-chain ``isValidSignature`` check).

Amounts in token base units; times in unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from eth_utils.address import to_checksum_address

from contracts.eip712 import Eip712Domain, SignatureError, Voucher
from royalties.fastsig import recover_address, voucher_digest
from royalties.usage_log import UsageFrontier, UsageRecord

MAX_CLOCK_SKEW_S = 300
"""How far a play's timestamp may be from the studio's clock. Settlement closes epoch N only
this long after it ends, so no play of epoch N can arrive after its snapshot."""


class Reason(StrEnum):
    """Why a voucher was rejected (the API's error codes)."""

    WRONG_CHANNEL = "wrong_channel"
    WITHDRAWAL_PENDING = "withdrawal_pending"
    REPLAY = "replay"
    STALE_SEQ = "stale_seq"
    BAD_TIMESTAMP = "bad_timestamp"
    UNDERPAID = "underpaid"
    OVERPAID = "overpaid"
    UNDER_FUNDED = "under_funded"
    USAGE_ROOT_MISMATCH = "usage_root_mismatch"
    BAD_SIGNATURE = "bad_signature"
    WRONG_SIGNER = "wrong_signer"


@dataclass(frozen=True)
class ChannelState:
    """What the studio knows about one channel.

    From the chain: ``signer`` (voucher signer), ``balance`` and ``claimed_onchain`` (base
    units), ``withdrawal_pending``; ``signer_is_contract`` when the signer has code. From the
    accepted vouchers: ``last_seq`` (0 before the first; the contract's ``lastSeq`` starts at 0),
    ``charged`` (cumulative base units of accepted plays = the last voucher's
    ``cumulativeAmount``), ``last_digest`` (its EIP-712 digest), ``last_timestamp`` and the
    play log's ``usage`` frontier.
    """

    channel_id: int
    signer: str
    balance: int
    claimed_onchain: int = 0
    withdrawal_pending: bool = False
    signer_is_contract: bool = False
    last_seq: int = 0
    charged: int = 0
    last_digest: bytes | None = None
    last_timestamp: int = 0
    usage: UsageFrontier = field(default_factory=UsageFrontier)


@dataclass(frozen=True)
class Play:
    """The play a voucher is asked to pay: ``track_id`` (32-byte content hash), ``price`` (the
    track's price per play in base units, from the terms in force), ``timestamp`` (unix s, as
    the platform put it in its log)."""

    track_id: bytes
    price: int
    timestamp: int


@dataclass(frozen=True)
class Accepted:
    """The voucher pays for the play. ``record`` is the play's usage-log entry at ``index``;
    ``state`` replaces the channel's state."""

    state: ChannelState
    record: UsageRecord
    index: int
    digest: bytes


@dataclass(frozen=True)
class Rejected:
    """The voucher is refused for ``reason``; ``detail`` carries the offending values."""

    reason: Reason
    message: str
    detail: Mapping[str, int | str]


Erc1271Check = Callable[[str, bytes, bytes], bool]
"""(signer, digest, signature) -> whether the contract wallet accepts the signature."""


def accept_voucher(
    state: ChannelState,
    play: Play,
    voucher: Voucher,
    signature: bytes,
    domain: Eip712Domain,
    *,
    now: int,
    erc1271: Erc1271Check | None = None,
) -> Accepted | Rejected:
    """Checks ``voucher`` against ``state`` for ``play`` (rules in the module docstring);
    ``domain`` is the escrow's (``escrow_domain(chain_id, escrow)``), ``now`` unix seconds."""
    if voucher.channel_id != state.channel_id:
        return _reject(
            Reason.WRONG_CHANNEL,
            "voucher is for another channel",
            expected=state.channel_id,
            got=voucher.channel_id,
        )
    if state.withdrawal_pending:
        return _reject(
            Reason.WITHDRAWAL_PENDING,
            "a withdrawal is pending on this channel; cancel it to keep streaming",
            channel_id=state.channel_id,
        )
    if voucher.seq <= state.last_seq:
        if (
            state.last_digest is not None
            and len(voucher.usage_root) == 32
            and voucher_digest(domain, voucher) == state.last_digest
        ):
            return _reject(Reason.REPLAY, "voucher was already accepted", seq=voucher.seq)
        return _reject(
            Reason.STALE_SEQ,
            "voucher seq must be above the last accepted one",
            seq=voucher.seq,
            last_seq=state.last_seq,
        )
    if voucher.seq >= 2**64:
        return _reject(Reason.STALE_SEQ, "voucher seq does not fit uint64", seq=voucher.seq)
    if abs(play.timestamp - now) > MAX_CLOCK_SKEW_S or play.timestamp < state.last_timestamp:
        return _reject(
            Reason.BAD_TIMESTAMP,
            f"play timestamp must be within {MAX_CLOCK_SKEW_S} s of now and not before the "
            "previous play",
            timestamp=play.timestamp,
            now=now,
            previous=state.last_timestamp,
        )
    due = state.charged + play.price
    if voucher.cumulative_amount != due:
        reason = Reason.UNDERPAID if voucher.cumulative_amount < due else Reason.OVERPAID
        return _reject(
            reason,
            "cumulative amount must equal every play so far plus this play's price",
            cumulative_amount=voucher.cumulative_amount,
            due=due,
        )
    unredeemed = voucher.cumulative_amount - state.claimed_onchain
    if unredeemed > state.balance:
        return _reject(
            Reason.UNDER_FUNDED,
            "the channel's balance does not cover its unredeemed vouchers",
            required=unredeemed,
            balance=state.balance,
        )
    record = UsageRecord(voucher.seq, play.track_id, play.price, play.timestamp)
    usage = state.usage.append(record)
    root = usage.root()
    if voucher.usage_root != root:
        return _reject(
            Reason.USAGE_ROOT_MISMATCH,
            "usage root is not the play log's root with this play appended",
            expected="0x" + root.hex(),
            got="0x" + voucher.usage_root.hex(),
        )
    digest = voucher_digest(domain, voucher)
    if state.signer_is_contract:
        if erc1271 is None or not erc1271(state.signer, digest, signature):
            return _reject(
                Reason.WRONG_SIGNER, "contract signer did not accept", signer=state.signer
            )
    else:
        try:
            signer = recover_address(digest, signature)
        except SignatureError as exc:
            return _reject(Reason.BAD_SIGNATURE, str(exc))
        if signer != bytes.fromhex(state.signer[2:]):  # raw bytes: no checksum to compute
            return _reject(
                Reason.WRONG_SIGNER,
                "voucher is not signed by the channel's signer",
                signer=state.signer,
                recovered=to_checksum_address(signer),
            )
    new_state = replace(
        state,
        last_seq=voucher.seq,
        charged=due,
        last_digest=digest,
        last_timestamp=play.timestamp,
        usage=usage,
    )
    return Accepted(new_state, record, state.usage.size, digest)


def _reject(reason: Reason, message: str, **detail: int | str) -> Rejected:
    return Rejected(reason, message, detail)
