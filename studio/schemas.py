"""Request and response bodies of the public API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from voice_model.defaults import DEFAULT_INDEX_RATE, DEFAULT_PROTECT

HEX_BYTES = r"^0x(?:[0-9a-fA-F]{2}){1,1024}$"  # whole bytes: an odd digit was a 500 (fromhex)


class ErrorDetail(BaseModel):
    code: str
    message: str
    detail: dict[str, object] = Field(default_factory=dict)


class ErrorBody(BaseModel):
    error: ErrorDetail


class NonceOut(BaseModel):
    nonce: str
    expires_at: datetime


class SiweIn(BaseModel):
    message: str = Field(min_length=1, max_length=4096)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{2,2048}$")


class SessionOut(BaseModel):
    token: str
    expires_at: datetime
    address: str


class MeOut(BaseModel):
    id: uuid.UUID
    address: str
    roles: list[str]
    session_expires_at: datetime


class RoleIn(BaseModel):
    role: Literal["creator", "fan"]


class PlatformIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)


class PlatformOut(BaseModel):
    id: uuid.UUID
    name: str
    wallet_address: str
    channel_id: str | None
    created_at: datetime


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret key. Shown once; store it now.")


class UploadOut(BaseModel):
    id: uuid.UUID
    sha256: str
    size_bytes: int
    filename: str | None
    format: str
    duration_s: float
    sample_rate: int
    channels: int
    created_at: datetime


class SignedUrlOut(BaseModel):
    url: str
    expires_at: datetime


class DeploymentOut(BaseModel):
    chain_id: int
    registry: str
    escrow: str
    distributor: str
    token: str
    epoch_genesis: int
    epoch_length_s: int


class DemoWalletOut(BaseModel):
    label: str
    address: str
    private_key: str = Field(description="A public anvil dev key: for the local demo only")


class ConfigOut(BaseModel):
    """What the web app needs to know about this deployment."""

    chain_id: int
    public_url: str
    token_decimals: int
    max_upload_bytes: int
    max_upload_duration_s: float
    contracts: DeploymentOut | None
    demo_wallets: list[DemoWalletOut]


class BackendOut(BaseModel):
    name: str
    ok: bool
    problem: str | None = None


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    backends: list[BackendOut]


# --- voices and terms ---------------------------------------------------------------------


class TermsOut(BaseModel):
    version: int
    payout_address: str
    creator_bps: int
    fan_bps: int
    platform_bps: int
    price_per_play: str = Field(description="Token base units (decimal string)")
    approval_required: bool
    metadata_uri: str | None
    status: str
    effective_epoch: int | None
    tx_hash: str | None
    created_at: datetime


class VoiceOut(BaseModel):
    id: uuid.UUID
    creator_address: str
    name: str
    description: str | None
    status: str
    method: str | None
    artifact_sha256: str | None
    created_at: datetime
    retired_at: datetime | None
    onchain_id: str | None
    terms: TermsOut | None


class TermsIn(BaseModel):
    payout_address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    creator_bps: int = Field(ge=0, le=10_000)
    fan_bps: int = Field(ge=0, le=10_000)
    platform_bps: int = Field(ge=0, le=10_000)
    price_per_play: str = Field(pattern=r"^[0-9]{1,18}$", description="Token base units")
    approval_required: bool = False
    metadata_uri: str = Field(default="", max_length=512)
    nonce: str = Field(pattern=r"^[0-9]{1,78}$")
    # Stored as a datetime: at most 9999-12-31T23:59:59Z.
    deadline: int = Field(gt=0, le=253_402_300_799, description="Unix seconds")
    signature: str = Field(pattern=HEX_BYTES)
    payout_signature: str | None = Field(
        default=None,
        pattern=HEX_BYTES,
        description="Needed when the payout address is not the creator: proves control of it",
    )


class RegistryNonceOut(BaseModel):
    nonce: str = Field(description="The nonce the creator's next signed terms must carry")


class AcceptTermsIn(BaseModel):
    terms_version: int = Field(ge=1)


class AcceptanceOut(BaseModel):
    voice_model_id: uuid.UUID
    terms_version: int
    accepted_at: datetime


# --- jobs -----------------------------------------------------------------------------------


class TrainJobIn(BaseModel):
    kind: Literal["train"]
    upload_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    method: Literal["baseline", "neural"] | None = None
    mode: Literal["speech", "singing"] = "speech"
    max_minutes: float = Field(default=10.0, gt=0, le=30)


class ConvertJobIn(BaseModel):
    kind: Literal["convert"]
    upload_id: uuid.UUID
    voice_model_id: uuid.UUID
    transpose: float = Field(default=0.0, ge=-24, le=24, description="Semitones")
    index_rate: float = Field(default=DEFAULT_INDEX_RATE, ge=0, le=1)
    protect: float = Field(default=DEFAULT_PROTECT, ge=0, le=1)
    accompaniment_upload_id: uuid.UUID | None = None


class JobError(BaseModel):
    code: str
    message: str


class JobOut(BaseModel):
    id: uuid.UUID
    kind: str
    status: str
    stage: str
    percent: float
    voice_model_id: uuid.UUID | None
    result_sha256: str | None
    error: JobError | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobResultOut(BaseModel):
    job_id: uuid.UUID
    kind: str
    sha256: str
    url: str | None = Field(description="Short-lived download URL (conversions)")
    expires_at: datetime | None
    voice_model_id: uuid.UUID | None
