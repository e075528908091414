"""SIGKILL the settlement process right after each on-chain or storage step, run it again:
no voucher redeemed twice, one root per epoch, the stored report is the proposed one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from royalties.verify import verify_epoch
from storage import LocalObjectStore
from tests.royalties.anvil_world import Net, World

ROOT = Path(__file__).resolve().parents[2]


def run_child(
    net: Net, world: World, tmp_path: Path, epoch: int, previous: str | None, kill_at: str | None
) -> subprocess.CompletedProcess[str]:
    spec = {
        "rpc_url": net.node.rpc_url,
        "deployment": net.d.to_json(),
        "store": str(tmp_path / "store"),
        "sender": net.acc[1].address,
        "epoch": epoch,
        "previous": previous,
        "kill_at": kill_at,
        "channels": sorted(world.states),
        "plays": [
            [p.channel_id, p.seq, p.track_id.hex(), p.price, p.cumulative] for p in world.plays
        ],
        "vouchers": [
            [v.channel_id, v.cumulative_amount, v.usage_root.hex(), v.seq, sig.hex()]
            for v, sig in world.latest.values()
        ],
        "out": str(tmp_path / f"out-{epoch}.json"),
    }
    path = tmp_path / f"spec-{epoch}-{kill_at}.json"
    path.write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, "-m", "tests.royalties.settle_child", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_killed_settlement_resumes_without_double_claim_or_second_root(
    net: Net, tmp_path: Path
) -> None:
    world = World(net)
    previous: str | None = None
    kill_points = ["after_claim", "after_store", "after_propose"]
    for epoch, kill_at in enumerate(kill_points):
        world.stream(6)
        world.end_epoch(epoch)
        killed = run_child(net, world, tmp_path, epoch, previous, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        done = run_child(net, world, tmp_path, epoch, previous, None)
        assert done.returncode == 0, done.stderr
        out = json.loads((tmp_path / f"out-{epoch}.json").read_text())
        assert out["proposed"] == (kill_at != "after_propose")
        previous = out["sha256"]
    escrow, dist = net.c.escrow, net.c.distributor
    redeemed = escrow.events.VoucherRedeemed.get_logs(from_block=net.d.block_number)
    rejected = escrow.events.VoucherRejected.get_logs(from_block=net.d.block_number)
    # One redemption per channel per epoch, none refused as a replay.
    assert len(redeemed) == len(kill_points) * len(world.states) and rejected == []
    proposals = dist.events.RootProposed.get_logs(from_block=net.d.block_number)
    assert [int(e["args"]["epoch"]) for e in proposals] == [0, 1, 2]
    assert bytes(proposals[-1]["args"]["reportHash"]).hex() == previous
    store = LocalObjectStore(tmp_path / "store", url_secret=b"s" * 32, base_url="http://test")
    for epoch in range(len(kill_points)):
        assert verify_epoch(net.c, store, epoch, from_block=net.d.block_number).ok
