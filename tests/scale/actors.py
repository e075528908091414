"""The flow's people as HTTP clients of a running :class:`~tests.scale.cluster.Cluster`:
sign-in (nonce from one process, SIWE on another), uploads, jobs (polled or followed over SSE),
creator-signed terms, platforms with funded channels and their vouchers."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from web3 import Web3

from contracts.eip712 import ModelTerms, escrow_domain, registry_domain, sign_model_terms
from royalties.platform_meter import PlatformMeter
from tests.scale.cluster import Cluster
from tests.studio.request_bodies import access_request
from tests.studio.wallets import Wallet

TERMINAL = ("succeeded", "failed", "cancelled")
Headers = dict[str, str]


def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def sign_in(
    cluster: Cluster,
    nonce_from: httpx.Client,
    siwe_on: httpx.Client,
    wallet: Wallet,
    roles: tuple[str, ...] = (),
) -> Headers:
    """Signs ``wallet`` in with a nonce issued by one process and the SIWE message verified by
    another; returns the Authorization header."""
    nonce = ok(nonce_from.get("/v1/auth/nonce"))["nonce"]
    message = wallet.siwe_message(nonce, domain=cluster.siwe_domain, uri=cluster.public_url)
    body = {"message": message, "signature": wallet.sign(message)}
    headers = {"Authorization": f"Bearer {ok(siwe_on.post('/v1/auth/siwe', json=body))['token']}"}
    for i, role in enumerate(roles):
        client = (nonce_from, siwe_on)[i % 2]
        ok(client.post("/v1/me/roles", json={"role": role}, headers=headers))
    return headers


def upload(client: httpx.Client, headers: Headers, data: bytes, name: str = "a.wav") -> str:
    files = {"file": (name, data, "audio/wav")}
    return str(ok(client.post("/v1/uploads", files=files, headers=headers), 201)["id"])


def wait_job(
    client: httpx.Client, headers: Headers, job_id: str, timeout_s: float = 240
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = ok(client.get(f"/v1/jobs/{job_id}", headers=headers))
        if job["status"] in TERMINAL:
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish: {job}")


def follow_events(
    client: httpx.Client, headers: Headers, job_id: str, timeout_s: float = 240
) -> list[dict[str, Any]]:
    """The job's progress events over SSE until its final one."""
    events: list[dict[str, Any]] = []
    url = f"/v1/jobs/{job_id}/events"
    with client.stream("GET", url, headers=headers, timeout=timeout_s) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
                if events[-1]["status"] in TERMINAL:
                    break
    return events


def sign_terms(
    cluster: Cluster,
    nonce_from: httpx.Client,
    post_on: httpx.Client,
    wallet: Wallet,
    headers: Headers,
    voice_id: str,
    *,
    price: int,
    shares: tuple[int, int, int] = (5000, 4000, 1000),
) -> dict[str, Any]:
    """The creator signs EIP-712 terms for the registry; the service relays them."""
    artifact = ok(post_on.get(f"/v1/voices/{voice_id}", headers=headers))["artifact_sha256"]
    nonce = int(ok(nonce_from.get("/v1/voices/registry/nonce", headers=headers))["nonce"])
    d = cluster.deployment
    terms = ModelTerms(
        creator=wallet.address,
        payout=wallet.address,
        artifact_hash=bytes.fromhex(artifact),
        metadata_uri="",
        creator_bps=shares[0],
        fan_bps=shares[1],
        platform_bps=shares[2],
        price_per_play=price,
        approval_required=False,
        nonce=nonce,
        deadline=int(time.time()) + 3600,
    )
    sig = sign_model_terms(
        bytes(wallet.account.key), registry_domain(d.chain_id, d.registry), terms
    )
    body = {
        "payout_address": terms.payout,
        "creator_bps": terms.creator_bps,
        "fan_bps": terms.fan_bps,
        "platform_bps": terms.platform_bps,
        "price_per_play": str(price),
        "approval_required": False,
        "metadata_uri": "",
        "nonce": str(nonce),
        "deadline": terms.deadline,
        "signature": "0x" + sig.hex(),
    }
    out: dict[str, Any] = ok(
        post_on.post(f"/v1/voices/{voice_id}/terms", json=body, headers=headers), 201
    )
    return out


@dataclass
class Platform:
    account: LocalAccount
    headers: Headers
    api_key: str
    channel_id: int
    meter: PlatformMeter

    def access_body(self, track: dict[str, Any], price: int, timestamp: int) -> dict[str, Any]:
        """The next voucher for one play of ``track`` (recorded in the meter)."""
        voucher, sig = self.meter.pay(bytes.fromhex(track["content_sha256"]), price, timestamp)
        return access_request(track, timestamp, voucher, "0x" + sig.hex())


def send_steps(w3: Web3, sender: str, steps: list[dict[str, Any]]) -> None:
    for step in steps:
        tx = w3.eth.send_transaction(
            {"from": Web3.to_checksum_address(sender), "to": step["to"], "data": step["data"]}
        )
        assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1, step


def open_platform(
    cluster: Cluster,
    a: httpx.Client,
    b: httpx.Client,
    dev_index: int,
    *,
    name: str,
    deposit: int,
) -> Platform:
    """A streaming platform on dev account ``dev_index`` (it has gas): registered, with an API
    key and an escrow channel opened, linked and funded — each step on alternating processes."""
    account = cluster.dev(dev_index)
    headers = sign_in(cluster, a, b, Wallet(account))
    platform_id = ok(a.post("/v1/platforms", json={"name": name}, headers=headers), 201)["id"]
    key_url = f"/v1/platforms/{platform_id}/api-keys"
    key = ok(b.post(key_url, json={"name": "k"}, headers=headers), 201)["key"]
    w3 = cluster.w3()
    send_steps(w3, account.address, ok(a.get("/v1/channels/setup", headers=headers))["steps"])
    escrow = w3.eth.contract(
        address=Web3.to_checksum_address(cluster.deployment.escrow),
        abi=[
            {
                "name": "channelCount",
                "type": "function",
                "stateMutability": "view",
                "inputs": [],
                "outputs": [{"name": "", "type": "uint256"}],
            }
        ],
    )
    channel_id = int(escrow.functions.channelCount().call())
    ok(b.post("/v1/channels/link", json={"channel_id": str(channel_id)}, headers=headers))
    ok(a.post("/v1/channels/faucet", json={"amount": str(deposit)}, headers=headers))
    setup = ok(b.get(f"/v1/channels/setup?amount={deposit}", headers=headers))
    send_steps(w3, account.address, setup["steps"])
    d = cluster.deployment
    meter = PlatformMeter(channel_id, bytes(account.key), escrow_domain(d.chain_id, d.escrow))
    return Platform(account, headers, key, channel_id, meter)


def sha256_of(url: str) -> str:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return hashlib.sha256(r.content).hexdigest()
