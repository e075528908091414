"""The backends the app runs on, built once at start-up from the settings and injected into
routes (``studio.deps``). Embedded and scale backends implement the same protocols; which one
runs is decided here, once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3

from contracts.deploy import Deployment
from storage import LocalObjectStore, ObjectStore, S3ObjectStore, StorageError
from studio.db.engine import check_database, make_engine, make_session_factory
from studio.errors import ConfigurationError
from studio.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    db: sessionmaker[Session]
    store: ObjectStore
    chain: Web3 | None
    deployment: Deployment | None = None
    clock: Callable[[], datetime] = field(default=utc_now)
    # Hands a newly queued job to the job runner (embedded workers or Celery); set at start-up.
    dispatch: Callable[[uuid.UUID], None] = field(default=lambda _job_id: None)

    def close(self) -> None:
        self.engine.dispose()


def build_store(settings: Settings) -> ObjectStore:
    if settings.object_store == "s3":
        assert settings.s3_access_key is not None and settings.s3_secret_key is not None
        return S3ObjectStore(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key.get_secret_value(),
            secret_key=settings.s3_secret_key.get_secret_value(),
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
    root = settings.resolved_objects_dir
    root.mkdir(parents=True, exist_ok=True)
    return LocalObjectStore(root, url_secret=settings.secret_bytes(), base_url=settings.public_url)


def build_chain(settings: Settings) -> Web3 | None:
    if not settings.chain_rpc_url:
        return None
    # No retries: web3's default retries a timed-out request with back-off, which made a hung
    # provider hold each request (and /readyz) ~27 s instead of 5 (docs/faults.md, bug 8).
    provider = Web3.HTTPProvider(
        settings.chain_rpc_url, request_kwargs={"timeout": 5}, exception_retry_configuration=None
    )
    return Web3(provider)


def load_deployment(settings: Settings) -> Deployment | None:
    if settings.deployment_file is None:
        return None
    try:
        deployment = Deployment.load(settings.deployment_file)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError("TIMBRE_DEPLOYMENT_FILE", f"cannot read it: {exc}") from exc
    if deployment.chain_id != settings.chain_id:
        raise ConfigurationError(
            "TIMBRE_DEPLOYMENT_FILE",
            f"deployment is for chain {deployment.chain_id}, "
            f"TIMBRE_CHAIN_ID is {settings.chain_id}",
        )
    return deployment


def build_services(settings: Settings) -> Services:
    engine = make_engine(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        pool_overflow=settings.database_pool_overflow,
    )
    return Services(
        settings=settings,
        engine=engine,
        db=make_session_factory(engine),
        store=build_store(settings),
        chain=build_chain(settings),
        deployment=load_deployment(settings),
    )


@dataclass(frozen=True)
class BackendStatus:
    name: str
    setting: str
    target: str
    ok: bool
    problem: str | None = None


def check_backends(services: Services) -> list[BackendStatus]:
    """Probe every configured backend; never raises (``timbre doctor`` and /readyz print it)."""
    s = services.settings
    statuses: list[BackendStatus] = []

    def probe(name: str, setting: str, target: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal here
            problem = exc.message if isinstance(exc, ConfigurationError) else str(exc)
            statuses.append(BackendStatus(name, setting, target, False, problem or repr(exc)))
        else:
            statuses.append(BackendStatus(name, setting, target, True))

    probe(
        "database",
        "TIMBRE_DATABASE_URL",
        services.engine.url.render_as_string(hide_password=True),
        lambda: check_database(services.engine),
    )
    store_target = (
        f"s3://{s.s3_endpoint}/{s.s3_bucket}"
        if s.object_store == "s3"
        else str(s.resolved_objects_dir)
    )
    probe("object_store", "TIMBRE_OBJECT_STORE", store_target, services.store.check)
    if services.chain is not None:
        chain = services.chain

        def check_chain() -> None:
            got = chain.eth.chain_id
            if got != s.chain_id:
                raise ConfigurationError("TIMBRE_CHAIN_ID", f"RPC reports chain {got}")

        probe("chain", "TIMBRE_CHAIN_RPC_URL", s.chain_rpc_url, check_chain)
    if s.rate_limit_redis_url:
        probe(
            "rate_limits",
            "TIMBRE_RATE_LIMIT_REDIS_URL",
            _redact(s.rate_limit_redis_url),
            lambda: _ping(s.rate_limit_redis_url),
        )
    if s.job_broker == "celery":
        probe("job_broker", "TIMBRE_BROKER_URL", _redact(s.broker_url), lambda: _ping(s.broker_url))
    return statuses


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL we can parse: show nothing of it
        return "<unparseable>"


def _ping(broker_url: str) -> None:
    if broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    else:
        from kombu.connection import Connection

        with Connection(broker_url, connect_timeout=2) as conn:  # type: ignore[no-untyped-call]
            conn.ensure_connection(max_retries=1)


def prepare_store(store: ObjectStore) -> None:
    """Create the S3 bucket on first start (a no-op for the local store). An unreachable
    server is left for ``require_backends`` to report with the setting's name."""
    if isinstance(store, S3ObjectStore):
        try:
            store.ensure_bucket()
        except StorageError:
            return


def require_backends(services: Services) -> None:
    """Start-up gate: the first unreachable backend stops the process, naming its setting."""
    for status in check_backends(services):
        if not status.ok:
            raise ConfigurationError(
                status.setting, f"{status.name} at {status.target} is unreachable: {status.problem}"
            )
