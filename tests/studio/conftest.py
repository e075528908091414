"""Studio fixtures: the app on both database engines and both object stores.

Every studio test runs twice — SQLite + local directory, and PostgreSQL + S3 (SeaweedFS) — so
the suite covers both databases and both storage backends without a full cross product."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from studio.app import create_app
from studio.db.migrate import upgrade
from studio.services import Services, build_services
from studio.settings import Settings

BACKENDS = ["sqlite-local", "postgresql-s3"]
TEST_SECRET = "test-secret-key-0123456789abcdef0123456789"


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def make_settings(
    backend: str,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: Callable[[], str],
    request: pytest.FixtureRequest,
) -> Callable[..., Settings]:
    """Settings for ``backend`` with a fresh database and store; overrides via kwargs."""

    def make(**overrides: Any) -> Settings:
        var = tmp_path_factory.mktemp(f"var-{backend}")
        values: dict[str, Any] = {
            "environment": "test",
            "var_dir": var,
            "public_url": "http://testserver",
            "secret_key": TEST_SECRET,
            # the suite signs in hundreds of wallets from one client address
            "rate_limit_auth_per_min": 100_000,
            "rate_limit_writes_per_min": 100_000,
        }
        if backend == "sqlite-local":
            values["database_url"] = f"sqlite:///{var / 'timbre.db'}"
        else:
            s3 = request.getfixturevalue("s3_server")
            values.update(
                database_url=postgres_database(),
                object_store="s3",
                s3_endpoint=s3.endpoint,
                s3_access_key=s3.access_key,
                s3_secret_key=s3.secret_key,
                s3_bucket=f"timbre-{var.name.lower().replace('_', '-')[-40:]}",
            )
        values.update(overrides)
        settings = Settings(**values)
        upgrade(settings.resolved_database_url)
        return settings

    return make


@pytest.fixture(scope="session")
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def services(settings: Settings) -> Iterator[Services]:
    svc = build_services(settings)
    yield svc
    svc.close()


@pytest.fixture(scope="session")
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as c:
        yield c


@pytest.fixture
def make_client(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., TestClient]]:
    """A separate app (own database and store) with overridden settings, e.g. small limits."""
    opened: list[tuple[TestClient, Services]] = []

    def make(**overrides: Any) -> TestClient:
        svc = build_services(make_settings(**overrides))
        c = TestClient(create_app(services=svc))
        c.__enter__()
        opened.append((c, svc))
        return c

    yield make
    for c, svc in opened:
        c.__exit__(None, None, None)
        svc.close()


def scratch_files(settings: Settings) -> list[Path]:
    return sorted(settings.tmp_dir.glob("upload-*")) if settings.tmp_dir.exists() else []
