"""The PostgreSQL pool pings a connection only after it idled: a connection the server dropped
while idle is replaced on checkout, unseen by the caller; a busy one costs no round trip, and
if the server drops it anyway, one query fails and the pool forgets every older connection."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import OperationalError

from studio.db.engine import make_engine
from studio.services import build_services
from studio.settings import Settings
from tests.conftest import PG_ADMIN_DSN


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    with psycopg.connect(PG_ADMIN_DSN + " dbname=postgres", autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


def _pings(engine: Engine) -> list[int]:
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_conn: DBAPIConnection) -> bool:
        seen.append(1)
        return bool(ping(dbapi_conn))

    engine.dialect.do_ping = counting  # type: ignore[method-assign,assignment]
    return seen


def test_a_connection_dropped_while_idle_is_replaced_on_checkout(
    postgres_database: Callable[[], str],
) -> None:
    engine = make_engine(postgres_database(), idle_ping_s=0.0)  # every checkout has idled
    try:
        first = _backend_pid(engine)
        _terminate(first)
        assert _backend_pid(engine) != first  # no error: the ping found it dead
    finally:
        engine.dispose()


def test_a_busy_connection_is_not_pinged(postgres_database: Callable[[], str]) -> None:
    engine = make_engine(postgres_database(), idle_ping_s=3600.0)
    try:
        pings = _pings(engine)
        pid = _backend_pid(engine)
        for _ in range(20):
            assert _backend_pid(engine) == pid  # the same pooled connection, reused
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_is_pinged_once_per_checkout(
    postgres_database: Callable[[], str],
) -> None:
    engine = make_engine(postgres_database(), idle_ping_s=0.0)
    try:
        pings = _pings(engine)
        for _ in range(3):
            _backend_pid(engine)
        assert len(pings) == 3
    finally:
        engine.dispose()


def test_without_a_ping_one_query_fails_and_the_pool_recovers(
    postgres_database: Callable[[], str],
) -> None:
    engine = make_engine(postgres_database(), idle_ping_s=3600.0)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        with pytest.raises(OperationalError):
            _backend_pid(engine)
        assert _backend_pid(engine) != first  # the pool was invalidated: a new connection
    finally:
        engine.dispose()


def test_connections_up_to_the_pool_size_stay_open_between_requests(
    postgres_database: Callable[[], str], tmp_path: Path
) -> None:
    """Concurrent requests up to TIMBRE_DATABASE_POOL_SIZE reuse their connections; only the
    overflow beyond it is closed on return (a new server backend per request)."""
    settings = Settings(
        database_url=postgres_database(),
        objects_dir=tmp_path,
        database_pool_size=3,
        database_pool_overflow=2,
    )
    services = build_services(settings)
    engine = services.engine
    try:
        held = [engine.connect() for _ in range(5)]  # 3 pooled + 2 overflow
        pids = {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in held}
        for c in held:
            c.close()
        assert engine.pool.checkedin() == 3  # type: ignore[attr-defined]
        again = [engine.connect() for _ in range(3)]
        reused = {int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()) for c in again}
        for c in again:
            c.close()
        assert reused <= pids and len(reused) == 3
    finally:
        services.close()
