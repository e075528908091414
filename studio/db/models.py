"""The whole domain of DESIGN.md as SQLAlchemy 2 models.

Money columns are ``TokenAmount`` (integer token base units). Shares are basis points
(integers summing to 10,000). Content is addressed by sha256 (64 lowercase hex chars).
Migrations in ``studio/migrations`` are the schema of record; a test checks they match these
models on SQLite and PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from studio.db.types import TokenAmount, UTCDateTime, utcnow

# Stable constraint names so Alembic can alter them on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("creator", "fan", "platform")
ADDRESS = String(42)  # EIP-55 checksummed 0x-address
SHA256 = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _id() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


# --- identity -------------------------------------------------------------------------------


class Account(Base):
    """A wallet that signed in (creator, fan, platform owner — roles are additive)."""

    __tablename__ = "accounts"
    id: Mapped[uuid.UUID] = _id()
    address: Mapped[str] = mapped_column(ADDRESS, unique=True, nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = _created()
    roles: Mapped[list[AccountRole]] = relationship(
        back_populates="account", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_names(self) -> list[str]:
        return sorted(r.role for r in self.roles)


class AccountRole(Base):
    __tablename__ = "account_roles"
    __table_args__ = (CheckConstraint("role IN ('creator', 'fan', 'platform')", name="role"),)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted_at: Mapped[datetime] = _created()
    account: Mapped[Account] = relationship(back_populates="roles")


class AuthNonce(Base):
    """A server-issued SIWE nonce; single use (``used_at`` set atomically on sign-in)."""

    __tablename__ = "auth_nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Session(Base):
    """A signed-in wallet's bearer session; only the token's sha256 is stored."""

    __tablename__ = "sessions"
    id: Mapped[uuid.UUID] = _id()
    token_sha256: Mapped[str] = mapped_column(SHA256, unique=True, nullable=False)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    account: Mapped[Account] = relationship(lazy="joined")


# --- platforms ------------------------------------------------------------------------------


class Platform(Base):
    """A streaming platform: pays per play from its escrow channel, bound to its wallet."""

    __tablename__ = "platforms"
    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    wallet_address: Mapped[str] = mapped_column(ADDRESS, unique=True, nullable=False)
    # On-chain PlayEscrow channel id (uint256 as decimal text), once opened.
    channel_id: Mapped[str | None] = mapped_column(String(78), unique=True)
    created_at: Mapped[datetime] = _created()
    owner: Mapped[Account] = relationship()


class ApiKey(Base):
    """A platform API key: shown once, stored as sha256, revocable."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = _id()
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platforms.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(80), nullable=False)
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)  # shown to identify a key
    key_sha256: Mapped[str] = mapped_column(SHA256, unique=True, nullable=False)
    created_at: Mapped[datetime] = _created()
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform: Mapped[Platform] = relationship(lazy="joined")


# --- audio and models -----------------------------------------------------------------------


class Upload(Base):
    """One accepted audio file; the bytes live in the object store under ``sha256``."""

    __tablename__ = "uploads"
    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id"), nullable=False, index=True
    )
    sha256: Mapped[str] = mapped_column(SHA256, nullable=False, index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(120))
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    sample_rate: Mapped[int] = mapped_column(Integer, nullable=False)
    channels: Mapped[int] = mapped_column(Integer, nullable=False)
    frames: Mapped[int] = mapped_column(BigInteger, nullable=False)
    duration_s: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[datetime] = _created()


class VoiceModel(Base):
    """A creator's voice; each trained artifact is a version, each signed terms set too."""

    __tablename__ = "voice_models"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'training', 'ready', 'registered', 'retired')", name="status"
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    creator_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="draft")
    method: Mapped[str | None] = mapped_column(String(32))  # baseline | neural
    artifact_sha256: Mapped[str | None] = mapped_column(SHA256)
    # VoiceRegistry model id (uint256 as decimal text) once registered on-chain.
    onchain_id: Mapped[str | None] = mapped_column(String(78), unique=True)
    created_at: Mapped[datetime] = _created()
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    terms: Mapped[list[ModelTerms]] = relationship(
        back_populates="voice_model", order_by="ModelTerms.version"
    )


class ModelTerms(Base):
    """One version of a model's royalty terms, as the creator signed it (EIP-712)."""

    __tablename__ = "model_terms"
    __table_args__ = (
        UniqueConstraint("voice_model_id", "version"),
        CheckConstraint(
            "creator_bps >= 0 AND fan_bps >= 0 AND platform_bps >= 0 "
            "AND creator_bps + fan_bps + platform_bps = 10000",
            name="shares_sum",
        ),
        CheckConstraint("price_per_play >= 0", name="price_nonneg"),
        CheckConstraint("status IN ('pending', 'submitted', 'active')", name="status"),
    )
    id: Mapped[uuid.UUID] = _id()
    voice_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voice_models.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    payout_address: Mapped[str] = mapped_column(ADDRESS, nullable=False)
    creator_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    fan_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    platform_bps: Mapped[int] = mapped_column(Integer, nullable=False)
    price_per_play: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    approval_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    metadata_uri: Mapped[str | None] = mapped_column(String(512))
    nonce: Mapped[str] = mapped_column(String(78), nullable=False)  # uint256 decimal
    deadline: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    signature: Mapped[str | None] = mapped_column(String(1024))  # 0x-hex; EOA or ERC-1271
    # The payout address's signature over the same digest (when payout != creator).
    payout_signature: Mapped[str | None] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    effective_epoch: Mapped[int | None] = mapped_column(Integer)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = _created()
    voice_model: Mapped[VoiceModel] = relationship(back_populates="terms")


class TermsAcceptance(Base):
    """A fan accepted one terms version of a model (who, which version, when)."""

    __tablename__ = "terms_acceptances"
    __table_args__ = (UniqueConstraint("account_id", "model_terms_id"),)
    id: Mapped[uuid.UUID] = _id()
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    model_terms_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("model_terms.id"), nullable=False)
    accepted_at: Mapped[datetime] = _created()


class Job(Base):
    """A training or conversion job. The database row is the job's state of record."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key"),
        CheckConstraint("kind IN ('train', 'convert')", name="kind"),
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')", name="status"
        ),
        CheckConstraint("percent >= 0 AND percent <= 100", name="percent"),
        Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),
    )
    id: Mapped[uuid.UUID] = _id()
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accounts.id"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    stage: Mapped[str] = mapped_column(String(64), nullable=False, default="queued")
    percent: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    voice_model_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("voice_models.id"))
    input_upload_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("uploads.id"))
    result_sha256: Mapped[str | None] = mapped_column(SHA256)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=3)
    worker_id: Mapped[str | None] = mapped_column(String(128))
    # When the job was last handed to the broker (None: never, e.g. the broker was down).
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = _created()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobEvent(Base):
    """One step of a job's progress, appended in order; SSE streams these by id."""

    __tablename__ = "job_events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False, index=True
    )
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    stage: Mapped[str] = mapped_column(String(64), nullable=False)
    percent: Mapped[float] = mapped_column(Float, nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _created()


class JobInput(Base):
    """Uploads a job reads (a training job has several reference recordings)."""

    __tablename__ = "job_inputs"
    job_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True
    )
    upload_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("uploads.id"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="reference")


class Track(Base):
    """A fan's derivative track made with a voice model; on-chain id = sha256 of its audio.

    ``draft``: recorded, not yet on-chain (the relayer retries); ``pending_approval``: the
    voice's terms require the creator's TrackApproval signature; ``published``: registered in
    the VoiceRegistry and playable; ``rejected`` by the creator; ``retired`` by its fan or the
    voice's creator (no new plays; what it earned stays earned)."""

    __tablename__ = "tracks"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'pending_approval', 'published', 'rejected', 'retired')",
            name="status",
        ),
    )
    id: Mapped[uuid.UUID] = _id()
    voice_model_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("voice_models.id"), nullable=False, index=True
    )
    fan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("accounts.id"), nullable=False)
    job_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("jobs.id"))
    title: Mapped[str] = mapped_column(String(200), nullable=False)
    content_sha256: Mapped[str] = mapped_column(SHA256, nullable=False, unique=True)
    fan_payout_address: Mapped[str] = mapped_column(ADDRESS, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="draft")
    approval_signature: Mapped[str | None] = mapped_column(String(1024))
    approval_deadline: Mapped[int | None] = mapped_column(BigInteger)  # unix s
    onchain_id: Mapped[str | None] = mapped_column(String(78), unique=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    created_at: Mapped[datetime] = _created()
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- money ----------------------------------------------------------------------------------


class Voucher(Base):
    """A platform-signed cumulative voucher (EIP-712), exactly as received."""

    __tablename__ = "vouchers"
    __table_args__ = (
        UniqueConstraint("channel_id", "seq"),
        CheckConstraint("cumulative_amount >= 0", name="cumulative_nonneg"),
    )
    id: Mapped[uuid.UUID] = _id()
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platforms.id"), nullable=False, index=True
    )
    channel_id: Mapped[str] = mapped_column(String(78), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cumulative_amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    usage_root: Mapped[str] = mapped_column(String(66), nullable=False)
    signature: Mapped[str] = mapped_column(String(1024), nullable=False)
    received_at: Mapped[datetime] = _created()
    claimed_epoch: Mapped[int | None] = mapped_column(Integer)


class Play(Base):
    """One paid access of a track by a platform, covered by the voucher ``(channel_id, seq)``
    whose ``cumulative`` amount (base units) includes this play's ``price``. ``timestamp`` is
    the unix second the platform logged (part of its usage record); ``epoch`` is its epoch."""

    __tablename__ = "plays"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_nonneg"),
        UniqueConstraint("channel_id", "seq"),
    )
    id: Mapped[uuid.UUID] = _id()
    track_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tracks.id"), nullable=False, index=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platforms.id"), nullable=False, index=True
    )
    voucher_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vouchers.id"), nullable=False)
    model_terms_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("model_terms.id"), nullable=False)
    price: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    epoch: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    played_at: Mapped[datetime] = _created()
    channel_id: Mapped[str] = mapped_column(String(78), nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    cumulative: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False)
    usage_index: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ChannelMeter(Base):
    """The studio's side of one escrow channel: the last accepted voucher and the play log's
    frontier (what ``royalties.vouchers.ChannelState`` needs besides the chain). Updated only
    under a row lock and a compare-and-set on ``last_seq``."""

    __tablename__ = "channel_meters"
    channel_id: Mapped[str] = mapped_column(String(78), primary_key=True)
    platform_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("platforms.id"), nullable=False, unique=True
    )
    last_seq: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    charged: Mapped[int] = mapped_column(TokenAmount, nullable=False, default=0)
    last_digest: Mapped[str | None] = mapped_column(String(66))
    last_timestamp: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    usage_size: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    usage_peaks: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    updated_at: Mapped[datetime] = _created()


class Epoch(Base):
    """A settlement window, numbered the same way on-chain and off-chain."""

    __tablename__ = "epochs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open', 'closing', 'proposed', 'finalized', 'vetoed')", name="status"
        ),
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    claimed_total: Mapped[int] = mapped_column(TokenAmount, nullable=False, default=0)
    entitled_total: Mapped[int] = mapped_column(TokenAmount, nullable=False, default=0)
    dust_total: Mapped[int] = mapped_column(TokenAmount, nullable=False, default=0)
    merkle_root: Mapped[str | None] = mapped_column(String(66))
    report_sha256: Mapped[str | None] = mapped_column(SHA256)
    claim_tx_hash: Mapped[str | None] = mapped_column(String(66))
    root_tx_hash: Mapped[str | None] = mapped_column(String(66))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Payout(Base):
    """A payee's cumulative entitlement as of an epoch (one Merkle leaf)."""

    __tablename__ = "payouts"
    __table_args__ = (
        UniqueConstraint("epoch", "payee_address"),
        CheckConstraint("cumulative_amount >= 0", name="cumulative_nonneg"),
    )
    id: Mapped[uuid.UUID] = _id()
    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), nullable=False)
    payee_address: Mapped[str] = mapped_column(ADDRESS, nullable=False, index=True)
    cumulative_amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    proof: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[datetime] = _created()


class TrackEarning(Base):
    """A track's cumulative figures as of a settled epoch (from its report), base units."""

    __tablename__ = "track_earnings"
    epoch: Mapped[int] = mapped_column(ForeignKey("epochs.number"), primary_key=True)
    track_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    gross: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    creator_amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    fan_amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    platform_amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)


class LedgerTransaction(Base):
    """One balanced money event (``royalties.ledger`` posting rules); ``(kind, ref)`` names
    the event so that it is stored once however often settlement runs."""

    __tablename__ = "ledger_transactions"
    __table_args__ = (UniqueConstraint("kind", "ref"),)
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    ref: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = _created()
    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", cascade="all, delete-orphan", lazy="selectin"
    )


class LedgerEntry(Base):
    """One leg: ``amount`` base units on ``account``, debit positive, credit negative."""

    __tablename__ = "ledger_entries"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("ledger_transactions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    account: Mapped[str] = mapped_column(String(120), nullable=False, index=True)
    amount: Mapped[int] = mapped_column(TokenAmount, nullable=False)
    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")


class ChainCursor(Base):
    """How far a chain event scan got (next block to read), by name."""

    __tablename__ = "chain_cursors"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_block: Mapped[int] = mapped_column(BigInteger, nullable=False)
