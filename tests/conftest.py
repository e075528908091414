"""Test-run-wide fixtures: real engines only. PostgreSQL is the machine's (a fresh database
per test session); SeaweedFS (S3) is started by the run itself."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import psycopg
import pytest

# SeaweedFS (weed mini) as the S3 server: `s3_server`, `s3_bucket`, `object_store` fixtures.
pytest_plugins = ["tests.services.seaweed"]

# Admin connection to the machine's PostgreSQL (trust auth on loopback).
PG_ADMIN_DSN = os.environ.get("TIMBRE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            PG_ADMIN_DSN + " dbname=postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as exc:  # a named requirement: fail, never skip
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required by the test suite: {exc}")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Callable[[], str]]:
    """Factory of fresh, empty PostgreSQL databases; all are dropped at the end."""
    created: list[str] = []

    def make() -> str:
        name = f"timbre_test_{uuid.uuid4().hex[:12]}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # name is generated above, not input
        created.append(name)
        params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
        return (
            f"postgresql+psycopg://{params.get('user', 'postgres')}@"
            f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
        )

    yield make
    with _pg_admin() as conn:
        for name in created:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
