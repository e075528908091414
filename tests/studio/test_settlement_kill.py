"""``timbre settle`` SIGKILLed between its steps, then run again: no second claim, no second
root, the epoch recorded once and the ledger reconciled with the chain.

The settlement runs in a child process (``python -m tests.studio.test_settlement_kill``) that
kills itself right after one step, so no ``finally`` block, rollback or buffered write of the
dying process survives: after the claim transaction (``after_claim``), after the root proposal
(``after_propose``), after recording the epoch in SQL (``after_record``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from studio.db.models import Epoch, LedgerTransaction, Payout
from studio.settlement.epochs import settle_next
from tests.studio.test_settlement_world import FIRST_PLATFORM, World, node, world

__all__ = ["node", "world"]

POINTS = ("after_claim", "after_propose", "after_record")


def _die_after(fn: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        fn(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    return wrapped


def main(spec_json: str) -> None:
    """The child: one settlement pass with the app's settings and clock, killed at a step."""
    import royalties.settle
    from studio.services import build_services
    from studio.settings import Settings
    from studio.settlement import epochs

    spec = json.loads(spec_json)
    services = build_services(Settings(**spec["settings"]))
    offset = int(spec["offset"])
    services.clock = lambda: datetime.fromtimestamp(int(time.time()) + offset, UTC)
    kill_at = spec["kill_at"]
    if kill_at == "after_claim":
        names = vars(royalties.settle)
        names["claim_latest_vouchers"] = _die_after(names["claim_latest_vouchers"])
    elif kill_at == "after_propose":
        names = vars(royalties.settle)
        names["propose_root_once"] = _die_after(names["propose_root_once"])
    elif kill_at == "after_record":
        epochs.reconcile_ledger = _die_after(epochs.reconcile_ledger)  # type: ignore[assignment]
    epochs.settle_next(services)


def _settings_json(w: World) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in w.services.settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, Path):
            value = str(value)
        out[name] = value
    return out


def _kill_settle(w: World, kill_at: str) -> None:
    spec = {"settings": _settings_json(w), "offset": w.offset, "kill_at": kill_at}
    done = subprocess.run(
        [sys.executable, "-m", "tests.studio.test_settlement_kill", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def _events(w: World) -> tuple[Counter[int], Counter[int]]:
    start = w.deployment.block_number
    redeemed = w.contracts.escrow.events.VoucherRedeemed.get_logs(from_block=start)
    roots = w.contracts.distributor.events.RootProposed.get_logs(from_block=start)
    return (
        Counter(int(e["args"]["channelId"]) for e in redeemed),
        Counter(int(e["args"]["epoch"]) for e in roots),
    )


def test_settle_killed_at_every_step_resumes_without_doubles(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", price=2999, shares=(3333, 3333, 3334))
    tracks = [w.track("fan", voice, f"t{i}") for i in range(2)]
    platforms = [w.platform(f"p{i}", FIRST_PLATFORM + i, deposit=1_000_000) for i in range(2)]
    for epoch, kill_at in enumerate(POINTS):
        for i in range(4):
            w.play(platforms[i % 2], tracks[(i + epoch) % 2], 2999)
        w.warp_past_epoch(epoch)
        _kill_settle(w, kill_at)
        outcome = settle_next(w.services)
        if kill_at == "after_record":
            assert outcome.status in ("waiting", "nothing_to_do"), outcome  # it was done
        else:
            assert outcome.status == "settled" and outcome.epoch == epoch, outcome
            assert outcome.claim_txs == ()  # the killed run's claim stands; none is sent again
        assert outcome.problems == [], outcome.problems
        redeemed, roots = _events(w)
        assert redeemed == {p.channel_id: epoch + 1 for p in platforms}
        assert roots == {e: 1 for e in range(epoch + 1)}
        with w.services.db() as db:
            row = db.get(Epoch, epoch)
            assert row is not None and row.status == "proposed" and row.root_tx_hash
            assert db.scalar(select(func.count()).select_from(Payout).where(Payout.epoch == epoch))
            assert (
                db.scalar(
                    select(func.count())
                    .select_from(LedgerTransaction)
                    .where(LedgerTransaction.kind == "entitlements")
                )
                == epoch + 1
            )
        w.warp_past_window()


if __name__ == "__main__":
    main(sys.argv[1])
