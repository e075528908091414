"""Chain faults beyond a dead endpoint (docs/faults.md): a service transaction that is never
mined (anvil with automine off), and an RPC provider that answers HTTP 500 or hangs (a loopback
proxy in front of anvil).

Expected: a bounded wait, a clear answer (503 ``chain_unavailable``, terms kept ``pending``, a
settle pass ``failed`` naming the transaction), nothing recorded as done that is not on-chain,
and a resume that reads the chain first and never sends the same operation twice."""

from __future__ import annotations

import importlib
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from studio.chain_relay import relay_pending
from studio.db.models import Epoch, ModelTerms
from studio.settlement.epochs import settle_next
from studio.settlement.schedule import settle_pass
from tests.studio.test_settlement_world import (
    FIRST_PLATFORM,
    SETTLEMENT,
    World,
    node,
    world,
)
from tests.studio.wallets import Wallet, sign_in

__all__ = ["node", "world"]
RECEIPT_WAIT_S = 2.0
# The chain's behaviour does not depend on the database or object store: one backend pair.
pytestmark = pytest.mark.parametrize("backend", ["sqlite-local"], indirect=True)


@pytest.fixture
def short_receipt_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receipt wait, bounded at 30 s in service, at 2 s so the test does not idle."""
    # (the package re-exports the function under the module's name)
    module = importlib.import_module("contracts.transact")
    monkeypatch.setattr(module, "RECEIPT_TIMEOUT_S", RECEIPT_WAIT_S)


def _terms(w: World, creator: str, voice_id: str, price: int) -> dict[str, Any]:
    """Signed terms for ``voice_id`` (as World.sign_terms, without expecting them active)."""
    return w.terms_request(creator, voice_id, price=price)


def _backend(ready: dict[str, Any], name: str) -> dict[str, Any]:
    return next(dict(b) for b in ready["backends"] if b["name"] == name)


def _in_flight(w: World, address: str) -> int:
    eth = w.w3.eth
    return eth.get_transaction_count(address, "pending") - eth.get_transaction_count(address)


def _version_count(w: World, voice_id: str) -> int:
    model = w.client.get(f"/v1/voices/{voice_id}").json()["onchain_id"]
    return int(w.contracts.registry.functions.termsVersionCount(bytes.fromhex(model[2:])).call())


def test_relayed_terms_never_mined(world: World, short_receipt_wait: None) -> None:
    w = world
    w.sign_in("creator", "creator")
    voice = w.voice("creator", price=3000)
    platform = w.platform("platform", FIRST_PLATFORM, deposit=0)
    relayer = w.dev(SETTLEMENT).address
    sent_before = w.w3.eth.get_transaction_count(relayer)

    w.node.set_automine(False)
    try:
        started = time.monotonic()
        r = w.client.post(
            f"/v1/voices/{voice}/terms",
            json=_terms(w, "creator", voice, 4000),
            headers=w.headers["creator"],
        )
        waited = time.monotonic() - started
        # Recorded, sent once, not mined: the creator is told it is pending, not active.
        assert r.status_code == 201, r.text
        assert (r.json()["status"], r.json()["tx_hash"]) == ("pending", None)
        assert waited < 60  # bounded (the receipt wait), not web3's 120 s default
        assert _version_count(w, voice) == 1
        assert _in_flight(w, relayer) == 1

        # Every other service transaction now answers 503 and sends nothing behind it.
        r = w.client.post("/v1/channels/faucet", json={"amount": "1000"}, headers=platform.headers)
        assert (r.status_code, r.json()["error"]["code"]) == (503, "chain_unavailable"), r.text
        # A resume (start-up) while it is still unmined sends nothing again.
        assert relay_pending(w.services) == 0
        assert _in_flight(w, relayer) == 1
        with w.services.db() as db:
            statuses = [t.status for t in db.scalars(select(ModelTerms))]
        assert sorted(statuses) == ["active", "pending"]
    finally:
        w.node.set_automine(True)
    w.node.mine()  # the stuck transaction lands

    # The resume reads the chain first: the version is there, adopted, not sent again.
    assert relay_pending(w.services) == 1
    voice_now = w.client.get(f"/v1/voices/{voice}").json()
    assert voice_now["terms"]["version"] == 2 and voice_now["terms"]["status"] == "active"
    assert voice_now["terms"]["price_per_play"] == "4000"
    assert _version_count(w, voice) == 2
    assert w.w3.eth.get_transaction_count(relayer) == sent_before + 1  # exactly one transaction
    r = w.client.post("/v1/channels/faucet", json={"amount": "1000"}, headers=platform.headers)
    assert r.status_code == 200, r.text


def test_settlement_claim_never_mined(world: World, short_receipt_wait: None) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    voice = w.voice("creator", price=3000)
    track = w.track("fan", voice)
    p = w.platform("platform", FIRST_PLATFORM, deposit=1_000_000)
    w.play(p, track, 3000)
    w.play(p, track, 3000)
    w.warp_past_epoch(0)
    relayer = w.dev(SETTLEMENT).address
    lines: list[str] = []

    w.node.set_automine(False)
    try:
        # The claim is sent and not mined: the pass fails, naming the transaction.
        assert settle_pass(w.services, echo=lines.append) is False
        assert lines[0].startswith("failed: transaction 0x") and "not mined" in lines[0]
        assert _in_flight(w, relayer) == 1
        with w.services.db() as db:
            epoch = db.get(Epoch, 0)
            assert epoch is not None and epoch.status == "closing"
            assert (epoch.claim_tx_hash, epoch.merkle_root, epoch.claimed_total) == (None, None, 0)
        # Run again while it is still unmined: nothing more is sent.
        lines.clear()
        assert settle_pass(w.services, echo=lines.append) is False
        assert lines[0].startswith("failed: an earlier transaction"), lines
        assert _in_flight(w, relayer) == 1
    finally:
        w.node.set_automine(True)
    w.node.mine()

    outcome = settle_next(w.services)
    assert outcome.status == "settled" and outcome.epoch == 0, outcome
    assert outcome.claim_txs == ()  # the mined claim is read back, not sent again
    logs = w.contracts.escrow.events.VoucherRedeemed.get_logs(from_block=w.deployment.block_number)
    assert Counter(int(e["args"]["channelId"]) for e in logs) == {p.channel_id: 1}
    assert sum(int(e["args"]["amount"]) for e in logs) == 6000
    proposals = w.contracts.distributor.events.RootProposed.get_logs(
        from_block=w.deployment.block_number
    )
    assert [int(e["args"]["epoch"]) for e in proposals] == [0]


class RpcProxy:
    """A loopback JSON-RPC endpoint in front of anvil that forwards, answers HTTP 500 (a
    provider's outage page), or holds the request without answering."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = "forward"
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if proxy.mode == "500":
                    self.send_response(500)
                    self.send_header("content-type", "text/html")
                    self.end_headers()
                    self.wfile.write(b"<h1>502 Bad Gateway</h1>")
                    return
                if proxy.mode == "hang":
                    proxy.release.wait(120)
                    return
                req = urllib.request.Request(  # noqa: S310 (our own loopback anvil)
                    proxy.upstream, data=body, headers={"content-type": "application/json"}
                )
                with urllib.request.urlopen(req, timeout=30) as up:  # noqa: S310
                    reply = up.read()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RpcProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(world: World) -> Iterator[RpcProxy]:
    with RpcProxy(world.node.rpc_url) as p:
        yield p


def test_rpc_provider_errors(
    world: World, proxy: RpcProxy, make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    """The same contracts, reached through a provider that fails: HTTP 500 and a hang."""
    w = world
    c = make_client(
        chain_rpc_url=proxy.url,
        chain_id=w.node.chain_id,
        deployment_file=tmp_path / "deployment.json",  # the world's own deployment
        relayer_key="0x" + bytes(w.dev(SETTLEMENT).key).hex(),
    )
    creator = sign_in(c, Wallet.new(), roles=("creator",))
    owner = sign_in(c, Wallet(w.dev(FIRST_PLATFORM + 1)))
    assert c.post("/v1/platforms", json={"name": "p"}, headers=owner).status_code == 201
    relayer = w.dev(SETTLEMENT).address
    sent_before = w.w3.eth.get_transaction_count(relayer)

    for mode in ("500", "hang"):
        proxy.mode = mode
        started = time.monotonic()
        ready = c.get("/readyz")
        assert ready.status_code == 503, ready.text
        assert _backend(ready.json(), "chain")["ok"] is False, ready.text
        calls = [("GET", "/v1/voices/registry/nonce", creator, None)]
        if mode == "500":
            calls += [
                ("GET", "/v1/channels/mine", owner, None),
                ("POST", "/v1/channels/faucet", owner, {"amount": "1000"}),
                ("GET", "/v1/payouts/me", creator, None),
            ]
        else:  # one settlement read: its 30 s timeout, once (web3's retries held it minutes)
            calls += [("GET", "/v1/channels/mine", owner, None)]
        for method, path, headers, body in calls:
            r = c.request(method, path, headers=headers, json=body)
            assert r.status_code == 503, (mode, path, r.text)
            assert r.json()["error"]["code"] == "chain_unavailable", (mode, path, r.text)
        assert time.monotonic() - started < 60  # each call bounded by the RPC timeout
        proxy.mode = "forward"
        assert w.w3.eth.get_transaction_count(relayer) == sent_before  # nothing was sent

    assert c.get("/readyz").status_code == 200
    r = c.post("/v1/channels/faucet", json={"amount": "1000"}, headers=owner)
    assert r.status_code == 200, r.text
