"""Runtime configuration: one settings object, env prefix ``TIMBRE_``, that picks every backend.

Embedded defaults (SQLite and a local object directory under ``var/``) make ``make run`` work on
a bare machine; the scale backends (PostgreSQL, S3/MinIO, an EVM RPC, Celery on Redis) are chosen
by setting the matching variables. Secrets never have production defaults: in ``development``
a random secret is generated once and kept in ``var/`` (mode 0600); in ``production`` a missing
secret stops start-up.
"""

from __future__ import annotations

import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from studio.errors import ConfigurationError

MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Every knob of the service. Field names map to ``TIMBRE_<NAME>`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TIMBRE_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    var_dir: Path = Path("var")

    # --- HTTP -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    # Origin users reach the service at; SIWE messages must name its host as their domain and
    # signed local object URLs are built on it. Empty means http://<host>:<port>.
    public_url: str = ""
    # Other sites' origins (scheme://host[:port], comma-separated) whose pages may call the API
    # from a browser (CORS; never with cookies: credentials are bearer tokens and API keys).
    # Empty: none; the web app is served by this service, same-origin. docs/SECURITY.md.
    cors_origins: str = ""
    log_level: str = "INFO"

    # --- database -------------------------------------------------------------------------
    # Empty means the embedded SQLite file var/timbre.db.
    database_url: str = ""
    # PostgreSQL connections a process keeps open between requests. A request beyond them
    # opens one (up to DATABASE_POOL_OVERFLOW more) and closes it after: a connect and a new
    # server backend per request, so keep this near the requests a process runs at once (its
    # thread pool runs 40). Processes x (size + overflow) must fit the server's
    # max_connections (PostgreSQL's default: 100).
    database_pool_size: int = Field(default=32, ge=1, le=1000)
    database_pool_overflow: int = Field(default=8, ge=0, le=1000)

    # --- object store ---------------------------------------------------------------------
    object_store: Literal["local", "s3"] = "local"
    objects_dir: Path | None = None  # default var/objects
    s3_endpoint: str = ""  # host:port
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_bucket: str = "timbre"
    s3_secure: bool = False
    s3_region: str = "us-east-1"

    # --- chain ----------------------------------------------------------------------------
    # Empty means no chain configured: sign-in works for EOAs only (no ERC-1271 check).
    chain_rpc_url: str = ""
    chain_id: int = 31337
    # contracts.deploy.Deployment JSON (addresses of VoiceRegistry, PlayEscrow, ...).
    deployment_file: Path | None = None

    # --- jobs -----------------------------------------------------------------------------
    job_broker: Literal["embedded", "celery"] = "embedded"
    broker_url: str = ""  # e.g. redis://127.0.0.1:6379/0 when job_broker=celery
    # Redis redelivers an unacknowledged task (its worker died) after this many seconds.
    celery_visibility_timeout_s: int = Field(default=300, gt=0)
    celery_queue: str = "timbre-jobs"

    # Demo mode: the web app offers this many of the local chain's well-known dev accounts as a
    # clearly labelled "demo wallet". Their keys are public (anvil's test mnemonic); refused in
    # production.
    demo_wallets: int = Field(default=0, ge=0, le=10)
    # Seed the demo (creator voice, fan, funded platform) at start-up; `timbre run` sets it
    # together with the embedded chain.
    demo_seed: bool = False
    # `timbre run` starts a local anvil (state under var/chain) when no chain RPC is set.
    embedded_chain: bool = True

    # --- secrets --------------------------------------------------------------------------
    # HMAC key for signed object URLs (and anything else the service signs for itself).
    secret_key: SecretStr | None = None
    # Key of the account that relays creator-signed terms and fan tracks to the registry (it
    # pays gas; signatures are the creators'). None: terms stay recorded, not relayed.
    relayer_key: SecretStr | None = None

    # --- auth -----------------------------------------------------------------------------
    session_ttl_s: int = Field(default=24 * 3600, gt=0)
    nonce_ttl_s: int = Field(default=10 * 60, gt=0)

    # --- jobs -------------------------------------------------------------------------------
    embedded_workers: int = Field(default=1, ge=0)  # in-process workers when job_broker=embedded
    job_heartbeat_s: float = Field(default=5.0, gt=0)
    # A running job whose worker has not heartbeaten for this long is re-queued (or failed
    # once it has used max attempts).
    job_stale_after_s: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    max_active_jobs_per_account: int = Field(default=4, ge=1)
    max_jobs_per_day: int = Field(default=200, ge=1)
    train_time_budget_s: float = Field(default=30 * 60.0, gt=0)
    train_method: Literal["baseline", "neural"] = "neural"
    model_cache_size: int = Field(default=8, ge=1)
    # Loaded voice models a worker keeps, by the bytes their weights and retrieval index hold
    # (least recently used evicted first; a model a running job uses never is).
    model_cache_bytes: int = Field(default=2 * 1024**3, ge=1)
    # Micro-batching: conversion chunks of concurrently running jobs that share a model are
    # rendered together, up to this many per batch, waiting at most this long for company.
    render_batch_size: int = Field(default=16, ge=1)
    render_batch_wait_ms: float = Field(default=5.0, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"

    # --- request limits -------------------------------------------------------------------
    max_body_bytes: int = Field(default=1024 * 1024, gt=0)  # JSON bodies of write routes
    rate_limit_writes_per_min: int = Field(default=120, gt=0)  # per caller, every write route
    rate_limit_auth_per_min: int = Field(default=30, gt=0)  # sign-in attempts per caller
    rate_limit_access_per_min: int = Field(default=6000, gt=0)  # platform plays per API key
    # Shared counters across API processes (scale mode); empty: in-process counters.
    rate_limit_redis_url: str = ""

    # --- uploads --------------------------------------------------------------------------
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0)
    max_upload_duration_s: float = Field(default=600.0, gt=0)
    signed_url_ttl_s: int = Field(default=300, gt=0)

    # --- settlement -------------------------------------------------------------------------
    # `timbre run` settles every this many seconds when a chain and relayer key are set
    # (0: only `timbre settle` does). One pass settles at most one epoch.
    settle_interval_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _check_backends(self) -> Settings:
        if not self.public_url:
            # frozen model: set the derived default once, during validation
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        if self.object_store == "s3":
            missing = [
                name
                for name, value in (
                    ("TIMBRE_S3_ENDPOINT", self.s3_endpoint),
                    ("TIMBRE_S3_ACCESS_KEY", self.s3_access_key),
                    ("TIMBRE_S3_SECRET_KEY", self.s3_secret_key),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"TIMBRE_OBJECT_STORE=s3 needs {', '.join(missing)}")
        for origin in self.cors_origin_list:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
                raise ValueError(
                    f"TIMBRE_CORS_ORIGINS: {origin!r} is not an origin (scheme://host[:port]; "
                    "no wildcard: list each site)"
                )
        if (self.demo_wallets or self.demo_seed) and self.environment == "production":
            raise ValueError("TIMBRE_DEMO_WALLETS / TIMBRE_DEMO_SEED are not for production")
        if self.deployment_file is not None and not self.chain_rpc_url:
            raise ValueError("TIMBRE_DEPLOYMENT_FILE needs TIMBRE_CHAIN_RPC_URL")
        if self.job_broker == "celery" and not self.broker_url:
            raise ValueError("TIMBRE_JOB_BROKER=celery needs TIMBRE_BROKER_URL")
        if self.secret_key is not None:
            if len(self.secret_key.get_secret_value().encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"TIMBRE_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes")
        elif self.environment == "production":
            raise ValueError("TIMBRE_SECRET_KEY is required in production (no default exists)")
        return self

    # --- derived values ---------------------------------------------------------------------
    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'timbre.db').resolve()}"

    @property
    def resolved_objects_dir(self) -> Path:
        return self.objects_dir or self.var_dir / "objects"

    @property
    def tmp_dir(self) -> Path:
        """Scratch space for in-flight uploads; same filesystem as var/ so moves are cheap."""
        return self.var_dir / "tmp"

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    @property
    def siwe_domain(self) -> str:
        """RFC 3986 authority SIWE messages must carry (host[:port] of the public URL)."""
        return urlsplit(self.public_url).netloc

    @property
    def siwe_scheme(self) -> str:
        return urlsplit(self.public_url).scheme

    def secret_bytes(self) -> bytes:
        """The service's own HMAC key; generated once per development ``var/`` directory."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        if self.environment == "production":  # pragma: no cover - rejected by the validator
            raise ConfigurationError("TIMBRE_SECRET_KEY", "required in production")
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            tmp.chmod(0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once per process (tests build their own)."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise ConfigurationError("TIMBRE_*", str(exc)) from exc
