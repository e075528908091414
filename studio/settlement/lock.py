"""One settlement run at a time per database: ``timbre settle`` from cron and the schedule
inside ``timbre run`` (or two API hosts) must not settle the same epoch at once — the chain
would refuse the second root, but the two runs would race to record it.

PostgreSQL: a session-level advisory lock. SQLite: an exclusive ``flock`` on a file next to
the database file (one machine by construction)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

ADVISORY_KEY = 0x74696D62726531  # "timbre1": the settlement's advisory lock id


@contextmanager
def settlement_lock(engine: Engine) -> Iterator[bool]:
    """Yields whether this process holds the settlement lock (never waits for it)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            )
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
        return
    database = engine.url.database
    path = Path(f"{database}.settle.lock") if database else None
    if path is None:  # in-memory database: one process by construction
        yield True
        return
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
