"""`timbre run` on an empty var/: local chain, contracts, a trained and registered demo voice,
a funded demo platform; Ctrl-C stops everything it started; a second run reuses the state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3

from contracts.artifacts import bind
from tests.studio.live import free_port

TIMBRE = Path(sys.executable).parent / "timbre"


def _start(var: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMBRE_")}
    env.update(TIMBRE_VAR_DIR=str(var), TIMBRE_PORT=str(port))
    with log.open("ab") as out:
        return subprocess.Popen([str(TIMBRE), "run"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_demo(base: str, proc: subprocess.Popen[bytes], log: Path) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            voices = httpx.get(f"{base}/v1/voices", timeout=2).json()
            if voices and voices[0]["terms"] and voices[0]["terms"]["status"] == "active":
                return list(voices)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the demo was not seeded:\n" + log.read_text()[-3000:])


def _anvils_for(var: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if "anvil" in line and str(var) in line]


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    return proc.wait(timeout=30)


def test_run_seeds_a_working_demo_and_restarts_on_its_state(tmp_path: Path) -> None:
    var, log = tmp_path / "var", tmp_path / "run.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(var, port, log)
    try:
        voices = _wait_demo(base, proc, log)
        config = httpx.get(f"{base}/v1/config").json()
        ready = httpx.get(f"{base}/readyz").json()
    finally:
        code = _stop(proc)
    assert code == 0
    assert _anvils_for(var) == []  # Ctrl-C stopped the chain it started

    assert len(voices) == 1 and voices[0]["status"] == "registered"
    assert voices[0]["onchain_id"] and voices[0]["terms"]["price_per_play"] == "3000"
    assert [w["label"] for w in config["demo_wallets"]] == [
        "Demo creator",
        "Demo fan",
        "Demo platform",
    ]
    assert voices[0]["creator_address"] == config["demo_wallets"][0]["address"]
    assert {b["name"] for b in ready["backends"]} == {"database", "object_store", "chain"}
    assert "Ctrl-C" in log.read_text()

    # second run: same chain state, same contracts, same voice — nothing redone
    port2 = free_port()
    proc = _start(var, port2, log)
    try:
        again = _wait_demo(f"http://127.0.0.1:{port2}", proc, log)
        config2 = httpx.get(f"http://127.0.0.1:{port2}/v1/config").json()
        rpc = _rpc_url(log)
        w3 = Web3(Web3.HTTPProvider(rpc))
        escrow = bind(w3, "PlayEscrow", config2["contracts"]["escrow"])
        channel = escrow.functions.getChannel(1).call()
    finally:
        assert _stop(proc) == 0
    assert [v["id"] for v in again] == [voices[0]["id"]]
    assert config2["contracts"] == config["contracts"]
    assert log.read_text().count("deployed contracts") == 1
    assert config["demo_wallets"][2]["address"] in channel  # the demo platform's channel
    assert 100 * 10**6 in channel  # funded with $100 of TestUSD


def _rpc_url(log: Path) -> str:
    lines = [line for line in log.read_text().splitlines() if "local chain: " in line]
    return lines[-1].split("local chain: ")[1].split()[0]
