"""Request and response bodies of the settlement routes. Money is token base units as decimal
strings (JSON numbers lose precision beyond 2^53)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field

HEX_SIG = r"^0x(?:[0-9a-fA-F]{2}){1,1024}$"  # whole bytes: an odd digit was a 500 (fromhex)
AMOUNT = r"^[0-9]{1,78}$"
UINT64_MAX = 2**64 - 1


def _uint256(value: str) -> str:
    if int(value) >= 2**256:
        raise ValueError("must fit uint256")
    return value


Uint256Str = Annotated[str, Field(pattern=AMOUNT), AfterValidator(_uint256)]
"""A uint256 as a decimal string (token base units, channel ids)."""


class TrackIn(BaseModel):
    job_id: uuid.UUID = Field(description="The fan's own succeeded conversion job")
    title: str = Field(min_length=1, max_length=200)


class TrackOut(BaseModel):
    id: uuid.UUID
    title: str
    voice_id: uuid.UUID
    fan_address: str
    content_sha256: str
    onchain_id: str | None = Field(description="bytes32 track id in the VoiceRegistry")
    status: str
    tx_hash: str | None
    created_at: datetime
    published_at: datetime | None
    retired_at: datetime | None


class ApprovalRequestOut(BaseModel):
    """What the creator signs (EIP-712 TrackApproval) to let the track be published."""

    track_id: uuid.UUID
    deadline: int
    typed_data: dict[str, Any]


class ApprovalIn(BaseModel):
    # Stored in a BIGINT column (signed 64 bits): a larger deadline was a 500 at commit.
    deadline: int = Field(gt=0, le=2**63 - 1, description="Unix seconds, as signed")
    signature: str = Field(pattern=HEX_SIG)


class VoucherIn(BaseModel):
    channel_id: Uint256Str
    cumulative_amount: Uint256Str = Field(description="Token base units")
    usage_root: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")
    seq: int = Field(ge=0, le=UINT64_MAX)


class AccessIn(BaseModel):
    track_id: str = Field(description="The track's id, or its on-chain 0x content hash")
    timestamp: int = Field(
        ge=0, le=UINT64_MAX, description="Unix seconds of the play in the platform's log"
    )
    voucher: VoucherIn
    signature: str = Field(pattern=HEX_SIG)


class AccessOut(BaseModel):
    play_id: uuid.UUID
    stream_url: str
    expires_at: datetime
    track_onchain_id: str
    price: str
    channel_id: str
    seq: int
    cumulative_amount: str
    usage_index: int = Field(description="The play's position in the channel's usage log")
    epoch: int


class PlayProofOut(BaseModel):
    """A play's inclusion in the channel's usage log (RFC 6962, SHA-256): the record at
    ``index`` of the log of ``size`` records whose root is ``root``."""

    play_id: uuid.UUID
    channel_id: str
    index: int
    size: int
    root: str
    record: dict[str, Any]
    proof: list[str]


class TxStep(BaseModel):
    description: str
    to: str
    data: str
    value: str = "0"


class ChannelSetupOut(BaseModel):
    chain_id: int
    escrow: str
    token: str
    channel_id: str | None
    faucet_available: bool
    steps: list[TxStep]


class ChannelLinkIn(BaseModel):
    channel_id: Uint256Str


class FaucetIn(BaseModel):
    amount: Uint256Str = Field(description="Token base units")


class FaucetOut(BaseModel):
    to: str
    amount: str
    tx_hash: str


class ChannelOut(BaseModel):
    channel_id: str
    platform_id: uuid.UUID
    signer: str
    balance: str = Field(description="Deposited and not yet redeemed, base units")
    claimed_onchain: str = Field(description="Cumulative amount the escrow has redeemed")
    charged: str = Field(description="Cumulative amount of accepted vouchers")
    pending_liability: str = Field(description="charged - claimed_onchain")
    available: str = Field(description="balance - pending_liability")
    last_seq: int
    usage_size: int
    usage_root: str
    withdrawal_pending: bool
    withdraw_amount: str
    withdraw_ready_at: int


class PayoutOut(BaseModel):
    address: str
    epoch: int | None
    cumulative_amount: str
    claimed_onchain: str
    claimable: str = Field(description="cumulative - claimed, when the root is active")
    root: str | None
    root_active: bool
    proof: list[str]
    distributor: str | None


class EpochEarningOut(BaseModel):
    epoch: int
    cumulative_amount: str
    increment: str


class TrackEarningOut(BaseModel):
    track_id: uuid.UUID | None
    track_onchain_id: str
    title: str | None
    role: str = Field(description="creator or fan: the viewer's role on this track")
    epoch: int
    gross: str
    creator_amount: str
    fan_amount: str
    platform_amount: str
    plays: int


class VoiceEarningOut(BaseModel):
    voice_id: uuid.UUID
    name: str
    epoch: int
    tracks: int
    gross: str
    creator_amount: str


class UsageOut(BaseModel):
    """A platform's charged plays of one track in one epoch."""

    epoch: int
    track_id: uuid.UUID
    track_onchain_id: str
    plays: int
    amount: str = Field(description="Base units charged")


class EpochOut(BaseModel):
    number: int
    status: str
    starts_at: datetime
    ends_at: datetime
    merkle_root: str | None
    report_sha256: str | None
    report_url: str | None
    claimed_total: str
    entitled_total: str
    dust_total: str
    claim_tx_hash: str | None
    root_tx_hash: str | None
    closed_at: datetime | None
    report: dict[str, Any] | None = None


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
