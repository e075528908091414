"""A whole money world for the settlement tests: anvil with fresh contracts per test, the app
wired to them (relayer = settlement account), creators with signed terms, fans with
published tracks and platforms with funded channels streaming through ``POST /v1/access``.

The app's clock follows anvil's: :meth:`World.warp` moves both."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import Contracts, Deployment, connect, deploy_all
from contracts.eip712 import (
    ModelTerms,
    escrow_domain,
    registry_domain,
    sign_model_terms,
)
from contracts.transact import transact
from royalties.platform_meter import PlatformMeter
from studio.db.models import Account, Job, VoiceModel
from studio.local_chain import dev_roles
from studio.services import Services
from tests.studio.request_bodies import access_request, terms_body
from tests.studio.wallets import Wallet, sign_in

EPOCH_S = 3600
WINDOW_S = 60  # the challenge window of studio.local_chain.dev_roles
SKEW_S = 301
DEPLOYER, SETTLEMENT, GUARDIAN, TREASURY, DUST = range(5)
FIRST_PLATFORM = 5


@pytest.fixture(scope="module")
def node() -> Iterator[AnvilNode]:
    with AnvilNode() as n:
        yield n


@dataclass
class Platform:
    wallet: Wallet
    headers: dict[str, str]
    api_key: str
    channel_id: int
    meter: PlatformMeter


@dataclass
class World:
    node: AnvilNode
    client: TestClient
    services: Services
    deployment: Deployment
    contracts: Contracts
    w3: Web3
    offset: int = 0
    wallets: dict[str, Wallet] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    # --- clock --------------------------------------------------------------------------
    def now(self) -> int:
        return int(time.time()) + self.offset

    def warp(self, seconds: int) -> None:
        """Moves anvil and the app's clock ``seconds`` ahead (and mines a block)."""
        self.offset += seconds
        self.node.mine(timestamp=max(self.now(), self.node.latest_timestamp() + 1))

    def warp_past_epoch(self, epoch: int) -> None:
        """To the moment epoch ``epoch`` can be settled."""
        target = self.deployment.epoch_genesis + (epoch + 1) * EPOCH_S + SKEW_S
        if self.now() < target:
            self.warp(target - self.now())

    def warp_past_window(self) -> None:
        self.warp(WINDOW_S + 1)

    # --- actors -------------------------------------------------------------------------
    def sign_in(self, name: str, *roles: str, wallet: Wallet | None = None) -> dict[str, str]:
        w = wallet or Wallet.new()
        self.wallets[name] = w
        self.headers[name] = sign_in(self.client, w, roles=roles)
        return self.headers[name]

    def dev(self, index: int) -> LocalAccount:
        return self.node.dev_accounts[index]

    def ready_voice(self, creator: str) -> tuple[str, str]:
        """A trained ("ready") voice of ``creator``, written straight into the database (training
        is tested in test_jobs): its id and random artifact hash."""
        with self.services.db() as db:
            account = db.scalars(
                select(Account).where(Account.address == self.wallets[creator].address)
            ).one()
            vm = VoiceModel(
                creator_id=account.id,
                name=f"voice {uuid.uuid4().hex[:6]}",
                status="ready",
                method="baseline",
                artifact_sha256=os.urandom(32).hex(),
                created_at=self.services.clock(),
            )
            db.add(vm)
            db.commit()
            assert vm.artifact_sha256 is not None
            return str(vm.id), vm.artifact_sha256

    def voice(
        self,
        creator: str,
        *,
        price: int = 3000,
        approval: bool = False,
        shares: tuple[int, int, int] = (5000, 4000, 1000),
    ) -> str:
        """A trained voice of ``creator`` with signed terms relayed to the registry."""
        voice_id, artifact = self.ready_voice(creator)
        self.sign_terms(creator, voice_id, artifact, price=price, approval=approval, shares=shares)
        return voice_id

    def terms_request(
        self,
        creator: str,
        voice_id: str,
        artifact: str | None = None,
        *,
        price: int = 3000,
        approval: bool = False,
        shares: tuple[int, int, int] = (5000, 4000, 1000),
    ) -> dict[str, Any]:
        """The body of ``POST /v1/voices/{voice_id}/terms``: ``creator``'s terms for the voice
        (its artifact read from ``GET /v1/voices/{voice_id}`` unless given) with the creator's
        next registry nonce, signed by the creator; not sent."""
        w, h = self.wallets[creator], self.headers[creator]
        if artifact is None:
            artifact = str(
                self.client.get(f"/v1/voices/{voice_id}", headers=h).json()["artifact_sha256"]
            )
        nonce = int(self.client.get("/v1/voices/registry/nonce", headers=h).json()["nonce"])
        terms = ModelTerms(
            creator=w.address,
            payout=w.address,
            artifact_hash=bytes.fromhex(artifact),
            metadata_uri="",
            creator_bps=shares[0],
            fan_bps=shares[1],
            platform_bps=shares[2],
            price_per_play=price,
            approval_required=approval,
            nonce=nonce,
            deadline=self.now() + 3600,
        )
        d = self.deployment
        sig = sign_model_terms(bytes(w.account.key), registry_domain(d.chain_id, d.registry), terms)
        return terms_body(terms, sig)

    def sign_terms(
        self,
        creator: str,
        voice_id: str,
        artifact: str,
        *,
        price: int,
        approval: bool = False,
        shares: tuple[int, int, int] = (5000, 4000, 1000),
    ) -> dict[str, Any]:
        """Posts :meth:`terms_request` and expects the terms active."""
        body = self.terms_request(
            creator, voice_id, artifact, price=price, approval=approval, shares=shares
        )
        r = self.client.post(
            f"/v1/voices/{voice_id}/terms", json=body, headers=self.headers[creator]
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "active", r.json()
        return dict(r.json())

    def conversion(self, fan: str, voice_id: str, data: bytes | None = None) -> str:
        """A succeeded conversion job of ``fan`` (the pipeline itself is tested in test_jobs):
        its result, ``data`` (random 'audio' unless given), in the object store."""
        if data is None:
            data = os.urandom(2048)
        stored = self.services.store.put(io.BytesIO(data), content_type="audio/wav")
        with self.services.db() as db:
            account = db.scalars(
                select(Account).where(Account.address == self.wallets[fan].address)
            ).one()
            job = Job(
                owner_id=account.id,
                kind="convert",
                status="succeeded",
                stage="done",
                percent=100.0,
                params={},
                voice_model_id=uuid.UUID(voice_id),
                result_sha256=stored.sha256,
                created_at=self.services.clock(),
            )
            db.add(job)
            db.commit()
            return str(job.id)

    def track(self, fan: str, voice_id: str, title: str = "a track") -> dict[str, Any]:
        job_id = self.conversion(fan, voice_id)
        r = self.client.post(
            "/v1/tracks", json={"job_id": job_id, "title": title}, headers=self.headers[fan]
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def send(self, sender: str, step: dict[str, Any]) -> None:
        tx = self.w3.eth.send_transaction(
            {"from": Web3.to_checksum_address(sender), "to": step["to"], "data": step["data"]}
        )
        receipt = self.w3.eth.wait_for_transaction_receipt(tx)
        assert receipt["status"] == 1, step

    def platform(self, name: str, dev_index: int, deposit: int) -> Platform:
        """A platform on dev account ``dev_index`` (has gas) with a channel funded from the
        faucet through the API's set-up steps."""
        account = self.dev(dev_index)
        h = self.sign_in(name, wallet=Wallet(account))
        r = self.client.post("/v1/platforms", json={"name": name}, headers=h)
        assert r.status_code == 201, r.text
        platform_id = r.json()["id"]
        r = self.client.post(f"/v1/platforms/{platform_id}/api-keys", json={"name": "k"}, headers=h)
        assert r.status_code == 201, r.text
        key = r.json()["key"]
        setup = self.client.get("/v1/channels/setup", headers=h).json()
        assert [s["to"] for s in setup["steps"]] == [self.deployment.escrow]
        self.send(account.address, setup["steps"][0])
        channel_id = int(self.contracts.escrow.functions.channelCount().call())
        r = self.client.post("/v1/channels/link", json={"channel_id": str(channel_id)}, headers=h)
        assert r.status_code == 200, r.text
        if deposit:
            self.fund(name, deposit)
        d = self.deployment
        meter = PlatformMeter(channel_id, bytes(account.key), escrow_domain(d.chain_id, d.escrow))
        return Platform(Wallet(account), h, key, channel_id, meter)

    def fund(self, name: str, amount: int) -> None:
        h = self.headers[name]
        r = self.client.post("/v1/channels/faucet", json={"amount": str(amount)}, headers=h)
        assert r.status_code == 200, r.text
        setup = self.client.get(f"/v1/channels/setup?amount={amount}", headers=h).json()
        assert len(setup["steps"]) == 2
        for step in setup["steps"]:
            self.send(self.wallets[name].address, step)

    def access_body(
        self, p: Platform, track: dict[str, Any], price: int, **over: Any
    ) -> dict[str, Any]:
        """The next voucher of ``p`` for one play of ``track`` (logged in its meter)."""
        ts = over.pop("timestamp", self.now())
        voucher, sig = p.meter.pay(bytes.fromhex(track["content_sha256"]), price, ts)
        return {**access_request(track, ts, voucher, "0x" + sig.hex()), **over}

    def play(self, p: Platform, track: dict[str, Any], price: int) -> dict[str, Any]:
        r = self.client.post(
            "/v1/access", json=self.access_body(p, track, price), headers={"X-API-Key": p.api_key}
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    def tx(self, fn: Any, sender: LocalAccount) -> None:
        transact(self.w3, fn, sender)


@pytest.fixture
def world(node: AnvilNode, make_client: Callable[..., TestClient], tmp_path: Path) -> World:
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    dev = node.dev_accounts
    deployment = deploy_all(w3, dev[DEPLOYER], **dev_roles(node, epoch_length_s=EPOCH_S))
    path = tmp_path / "deployment.json"
    deployment.save(path)
    client = make_client(
        chain_rpc_url=node.rpc_url,
        chain_id=node.chain_id,
        deployment_file=path,
        relayer_key="0x" + bytes(dev[SETTLEMENT].key).hex(),
    )
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    world = World(node, client, services, deployment, connect(w3, deployment), w3)
    # The chain may be ahead of the wall clock (earlier tests warped it): follow it.
    world.offset = max(0, node.latest_timestamp() - int(time.time()))
    services.clock = lambda: datetime.fromtimestamp(world.now(), UTC)
    return world
