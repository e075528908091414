"""Typed reads of contract state: what the settlement service and the studio look up."""

from __future__ import annotations

from dataclasses import dataclass

from web3.contract import Contract

from contracts.transact import call

BPS = 10_000


@dataclass(frozen=True)
class TermsVersion:
    """A model's terms in force from ``from_epoch``. Shares in basis points; price in base units."""

    payout: str
    creator_bps: int
    fan_bps: int
    platform_bps: int
    approval_required: bool
    from_epoch: int
    price_per_play: int
    metadata_uri: str


@dataclass(frozen=True)
class Model:
    """A registered voice model."""

    creator: str
    registered_epoch: int
    retired: bool
    artifact_hash: bytes


@dataclass(frozen=True)
class Track:
    """A derivative track, keyed by its content hash."""

    model_id: bytes
    fan: str
    registered_epoch: int


@dataclass(frozen=True)
class ChannelState:
    """A platform's escrow channel. Amounts in token base units; times in unix seconds."""

    token: str
    signer: str
    owner: str
    balance: int
    claimed: int
    last_seq: int
    withdraw_amount: int
    withdraw_ready_at: int


def model(registry: Contract, model_id: bytes) -> Model | None:
    """The model, or None when no model has this id."""
    creator, epoch, retired, artifact = call(registry.functions.getModel(model_id))
    if int(creator, 16) == 0:
        return None
    return Model(creator, epoch, retired, bytes(artifact))


def terms_at(registry: Contract, model_id: bytes, epoch: int) -> TermsVersion:
    """The terms of ``model_id`` in force in ``epoch`` (raises UnknownModel / NoTermsAtEpoch)."""
    return TermsVersion(*call(registry.functions.termsAt(model_id, epoch)))


def track(registry: Contract, content_hash: bytes) -> Track | None:
    """The track, or None when no track has this content hash."""
    model_id, fan, epoch = call(registry.functions.getTrack(content_hash))
    if int(fan, 16) == 0:
        return None
    return Track(bytes(model_id), fan, epoch)


def track_terms_at(registry: Contract, content_hash: bytes, epoch: int) -> tuple[TermsVersion, str]:
    """The terms governing a track's plays in ``epoch``, and its fan (raises UnknownTrack)."""
    terms, fan = call(registry.functions.trackTermsAt(content_hash, epoch))
    return TermsVersion(*terms), fan


def channel(escrow: Contract, channel_id: int) -> ChannelState | None:
    """The channel, or None when no channel has this id."""
    state = ChannelState(*call(escrow.functions.getChannel(channel_id)))
    return None if int(state.signer, 16) == 0 else state
