"""Request and response bodies of the public API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


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


class BackendOut(BaseModel):
    name: str
    ok: bool
    problem: str | None = None


class ReadyOut(BaseModel):
    status: Literal["ready", "unavailable"]
    backends: list[BackendOut]
