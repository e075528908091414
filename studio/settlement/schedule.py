"""Running settlement: one pass for ``timbre settle``, and the periodic schedule that
``timbre run`` keeps in a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from royalties.errors import RoyaltiesError
from studio.errors import TimbreError
from studio.services import Services, build_services
from studio.settings import Settings
from studio.settlement.epochs import SettleOutcome, settle_next

log = logging.getLogger("studio.settlement")


def settle_pass(
    services: Services,
    *,
    echo: Callable[[str], None] = log.info,
    watch_s: float = 0.0,
    stop: threading.Event | None = None,
) -> bool:
    """Settles every closable epoch (one per challenge window); with ``watch_s`` keeps going
    until ``stop`` is set. Returns False when the ledger and the chain disagree."""
    stop = stop or threading.Event()
    ok = True
    while True:
        outcome = _once(services, echo)
        ok = not outcome.problems
        if outcome.status == "settled":
            continue  # maybe another epoch is closable (it will wait for the window)
        if watch_s <= 0 or stop.wait(watch_s):
            return ok


def _once(services: Services, echo: Callable[[str], None]) -> SettleOutcome:
    try:
        outcome = settle_next(services)
    except (RoyaltiesError, TimbreError, OSError) as exc:
        # The chain contradicts the settlement, or a backend is missing or not answering (an
        # unreachable RPC, a transaction not mined yet): a person must look, or the next pass
        # resumes.
        message = exc.message if isinstance(exc, TimbreError) else str(exc)
        outcome = SettleOutcome("failed", message, problems=[message])
    echo(f"{outcome.status}: {outcome.message}")
    for tx in outcome.claim_txs:
        echo(f"  claim tx {tx}")
    if outcome.root_tx:
        echo(f"  root tx {outcome.root_tx}")
    for p in outcome.problems:
        echo(f"  ledger/chain difference: {p}")
    return outcome


def start_schedule(
    settings: Settings, interval_s: float
) -> tuple[threading.Thread, threading.Event]:
    """Settles every ``interval_s`` seconds in a daemon thread (its own services) until the
    returned event is set. A failing pass is logged and retried next time."""
    stop = threading.Event()

    def loop() -> None:
        services = build_services(settings)
        try:
            while not stop.wait(interval_s):
                try:
                    # Idle passes (nothing to settle, epoch still open) log at debug only.
                    outcome = _once(services, log.debug)
                    if outcome.status not in ("nothing_to_do", "waiting") or outcome.problems:
                        log.info("settlement: %s: %s", outcome.status, outcome.message)
                        for p in outcome.problems:
                            log.warning("settlement: %s", p)
                except Exception:  # the schedule outlives any one failed pass
                    log.exception("settlement pass failed; retrying next interval")
        finally:
            services.close()

    thread = threading.Thread(target=loop, daemon=True, name="settlement")
    thread.start()
    return thread, stop
