"""A settlement process for the crash tests: runs ``settle_epoch`` for one epoch and, when told,
SIGKILLs itself right after one step (``after_claim``, ``after_store``, ``after_propose``), so
no ``finally`` block or buffered write survives it.

    python -m tests.royalties.settle_child SPEC.json
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from web3 import Web3

from contracts.deploy import Deployment, connect
from contracts.eip712 import Voucher
from royalties import settle as settle_module
from royalties.gross import ChargedPlay
from royalties.report import ChainRef, load_report, parse_report
from royalties.splits import SplitState
from storage import LocalObjectStore


def _die_after(fn: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result  # never reached

    return wrapped


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    deployment = Deployment.from_json(spec["deployment"])
    w3 = Web3(Web3.HTTPProvider(spec["rpc_url"], request_kwargs={"timeout": 60}))
    store = LocalObjectStore(Path(spec["store"]), url_secret=b"s" * 32, base_url="http://test")
    kill_at = spec.get("kill_at")
    names = vars(settle_module)  # settle_epoch calls these through its module's namespace
    if kill_at == "after_claim":
        names["claim_latest_vouchers"] = _die_after(names["claim_latest_vouchers"])
    elif kill_at == "after_propose":
        names["propose_root_once"] = _die_after(names["propose_root_once"])
    elif kill_at == "after_store":
        store.put = _die_after(store.put)  # type: ignore[method-assign]
    state, previous, since = SplitState(), None, None
    if spec["previous"]:
        data = b"".join(store.iter_bytes(spec["previous"]))
        previous = load_report(data)
        state, since = previous.state, dict(parse_report(data)[0].channels)
    plays = [ChargedPlay(p[0], p[1], bytes.fromhex(p[2]), p[3], p[4]) for p in spec["plays"]]
    if since is not None:
        plays = [p for p in plays if p.cumulative > since.get(p.channel_id, 0)]
    done = settle_module.settle_epoch(
        w3=w3,
        contracts=connect(w3, deployment),
        sender=spec["sender"],
        store=store,
        state=state,
        epoch=spec["epoch"],
        plays=plays,
        vouchers=[
            (Voucher(v[0], v[1], bytes.fromhex(v[2]), v[3]), bytes.fromhex(v[4]))
            for v in spec["vouchers"]
        ],
        channel_ids=spec["channels"],
        previous_leaves=dict(previous.payouts.leaves) if previous else None,
        chain=ChainRef(
            deployment.chain_id, deployment.registry, deployment.escrow, deployment.distributor
        ),
        code_version="crash-test",
        since=since,
        from_block=deployment.block_number,
    )
    Path(spec["out"]).write_text(
        json.dumps({"sha256": done.report_sha256.hex(), "proposed": done.proposal is not None})
    )


if __name__ == "__main__":
    main(sys.argv[1])
