"""Engine and session factory for the configured database (SQLite file or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

from studio.errors import ConfigurationError


def make_engine(
    url: str, idle_ping_s: float | None = None, pool_size: int = 32, pool_overflow: int = 8
) -> Engine:
    """An engine tuned per dialect: SQLite gets WAL, foreign keys and a busy timeout so the
    API threads and in-process workers can share the file."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # as for PostgreSQL below: a connection per concurrent request stays open (each new
            # one costs a file open and the pragmas)
            pool_size=pool_size,
            max_overflow=pool_overflow,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_overflow)
    _ping_connections_idle_over(engine, IDLE_PING_S if idle_ping_s is None else idle_ping_s)
    return engine


# A pooled connection idle this long is pinged before use; a busier one is not. Pinging every
# checkout (``pool_pre_ping``) costs a round trip per request. What it guards against is a
# server restart or a dropped connection, found then on checkout instead of by a failed query;
# and when a query does fail on a lost connection, SQLAlchemy invalidates every connection of
# the pool made before it, so only requests already in flight see the outage either way.
IDLE_PING_S = 5.0


def _ping_connections_idle_over(engine: Engine, seconds: float) -> None:
    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from_now(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is not None and time.monotonic() - idle_since < seconds:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # the driver's own error for a dead connection
            raise exc.DisconnectionError() from err  # the pool retries with a new one
        if not alive:
            raise exc.DisconnectionError()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def check_database(engine: Engine) -> None:
    """Readiness probe: raises ConfigurationError naming the setting when unreachable."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ConfigurationError(
            "TIMBRE_DATABASE_URL", f"cannot connect to the database: {type(exc).__name__}"
        ) from exc


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session
