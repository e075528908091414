"""The platform console's API: the owner's platform, set-up steps signed by the wallet itself
and broadcast by the service (open, fund, timed withdrawal), the channel with the chain's
clock, and usage per track with titles. Only the platform's owner may use any of it."""

from __future__ import annotations

from typing import Any

from eth_account import Account

from contracts.eip712 import escrow_domain
from royalties.platform_meter import PlatformMeter
from tests.studio.test_settlement_world import World, node, world
from tests.studio.wallets import Wallet

__all__ = ["node", "world"]


def _send_signed(w: World, h: dict[str, str], key: Any, step: dict[str, Any]) -> dict[str, Any]:
    """What the web app does with a demo wallet: ask for the parameters, sign, broadcast."""
    r = w.client.get(
        "/v1/channels/transaction-params",
        params={"to": step["to"], "data": step["data"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    p = r.json()
    tx = {
        "chainId": p["chain_id"],
        "nonce": p["nonce"],
        "to": p["to"],
        "data": step["data"],
        "gas": int(p["gas"]),
        "maxFeePerGas": int(p["max_fee_per_gas"]),
        "maxPriorityFeePerGas": int(p["max_priority_fee_per_gas"]),
        "value": 0,
    }
    raw = Account.sign_transaction(tx, key).raw_transaction.to_0x_hex()
    r = w.client.post("/v1/channels/transactions", json={"raw": raw}, headers=h)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    assert out["succeeded"], out
    return out


def test_platform_console_flow(world: World) -> None:
    w = world
    w.sign_in("creator", "creator")
    w.sign_in("fan", "fan")
    track = w.track("fan", w.voice("creator", price=2500), "Console song")
    dev = w.dev(6)
    h = w.sign_in("platform", wallet=Wallet(dev))
    assert w.client.get("/v1/platforms/mine", headers=h).json()["error"]["code"] == "no_platform"
    platform = w.client.post("/v1/platforms", json={"name": "Radio"}, headers=h).json()
    mine = w.client.get("/v1/platforms/mine", headers=h)
    assert mine.status_code == 200 and mine.json()["id"] == platform["id"]

    # Open the channel with a transaction the wallet signed; the service names the channel.
    setup = w.client.get("/v1/channels/setup", headers=h).json()
    opened = _send_signed(w, h, dev.key, setup["steps"][0])
    channel_id = opened["channel_id"]
    assert channel_id == str(w.contracts.escrow.functions.channelCount().call())
    r = w.client.post("/v1/channels/link", json={"channel_id": channel_id}, headers=h)
    assert r.status_code == 200, r.text

    # Fund it: the faucet, then approve + deposit signed by the wallet.
    assert w.client.post("/v1/channels/faucet", json={"amount": "50000"}, headers=h).is_success
    steps = w.client.get("/v1/channels/setup?amount=50000", headers=h).json()["steps"]
    for step in steps:
        assert _send_signed(w, h, dev.key, step)["channel_id"] is None
    chan = w.client.get("/v1/channels/mine", headers=h).json()
    assert chan["balance"] == "50000" and chan["pending_liability"] == "0"
    assert chan["withdrawal_delay_s"] == w.deployment.withdrawal_delay_s
    assert abs(chan["chain_time"] - w.now()) < 60

    # Two paid plays: usage per track with its title, and the unredeemed liability.
    key = w.client.post(
        f"/v1/platforms/{platform['id']}/api-keys", json={"name": "k"}, headers=h
    ).json()["key"]
    d = w.deployment
    meter = PlatformMeter(int(channel_id), bytes(dev.key), escrow_domain(d.chain_id, d.escrow))
    for _ in range(2):
        body = w.access_body(_Platform(meter), track, 2500)
        r = w.client.post("/v1/access", json=body, headers={"X-API-Key": key})
        assert r.status_code == 201, r.text
    usage = w.client.get(f"/v1/platforms/{platform['id']}/usage", headers=h).json()
    assert [(u["title"], u["plays"], u["amount"]) for u in usage] == [("Console song", 2, "5000")]
    assert w.client.get("/v1/channels/mine", headers=h).json()["pending_liability"] == "5000"

    # Timed exit: request (signed by the wallet), the channel shows when it is ready.
    [request, _cancel, _execute] = w.client.get(
        "/v1/channels/withdrawal?amount=1000", headers=h
    ).json()
    _send_signed(w, h, dev.key, request)
    chan = w.client.get("/v1/channels/mine", headers=h).json()
    assert chan["withdrawal_pending"] and chan["withdraw_amount"] == "1000"
    assert chan["withdraw_ready_at"] - chan["chain_time"] <= w.deployment.withdrawal_delay_s

    # Nobody else: other accounts, other keys, other targets.
    other = w.sign_in("other", "fan")
    for path in ("/v1/platforms/mine", "/v1/channels/mine"):
        assert w.client.get(path, headers=other).status_code == 404
    assert w.client.get(f"/v1/platforms/{platform['id']}/usage", headers=other).status_code == 404
    assert w.client.get(f"/v1/platforms/{platform['id']}/usage").status_code == 401
    params = {"to": request["to"], "data": request["data"]}
    assert (
        w.client.get("/v1/channels/transaction-params", params=params, headers=other).status_code
        == 404
    )
    stranger = Account.create()
    tx = {
        "chainId": d.chain_id,
        "nonce": 0,
        "to": d.escrow,
        "data": "0x",
        "gas": 50_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "value": 0,
    }
    foreign = Account.sign_transaction(tx, stranger.key).raw_transaction.to_0x_hex()
    r = w.client.post("/v1/channels/transactions", json={"raw": foreign}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "not_owner"
    elsewhere = Account.sign_transaction(
        {**tx, "to": w.dev(0).address}, dev.key
    ).raw_transaction.to_0x_hex()
    r = w.client.post("/v1/channels/transactions", json={"raw": elsewhere}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_target"
    r = w.client.get(
        "/v1/channels/transaction-params", params={"to": w.dev(0).address, "data": "0x"}, headers=h
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "bad_target"
    r = w.client.post("/v1/channels/transactions", json={"raw": "0x02abcd"}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad_transaction"
    assert w.client.post("/v1/channels/transactions", json={"raw": foreign}).status_code == 401


class _Platform:
    """The part of the settlement world's Platform that ``World.access_body`` uses."""

    def __init__(self, meter: PlatformMeter) -> None:
        self.meter = meter
