"""One settlement run at a time per database: ``timbre settle`` from cron and the schedule
inside ``timbre run`` (or two API hosts) must not settle the same epoch at once — the chain
would refuse the second root, but the two runs would race to record it.

PostgreSQL: a session-level advisory lock. SQLite: an exclusive ``flock`` on a file next to
the database file (one machine by construction).

A caller may wait a bounded time for the lock: a run SIGKILLed a moment ago still holds its
advisory lock until PostgreSQL notices the closed connection and ends that backend, so a run
started right after it would otherwise report ``waiting`` for a run that no longer exists."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

ADVISORY_KEY = 0x74696D62726531  # "timbre1": the settlement's advisory lock id
POLL_S = 0.1


@contextmanager
def settlement_lock(engine: Engine, wait_s: float = 0.0) -> Iterator[bool]:
    """Yields whether this process holds the settlement lock, having tried for up to
    ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            while True:
                got = bool(
                    conn.execute(
                        text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}
                    ).scalar()
                )
                conn.commit()  # no transaction left open while polling
                if got or time.monotonic() >= deadline:
                    break
                time.sleep(POLL_S)
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
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(POLL_S)
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
