"""Creator-signed terms (EIP-712 for the real VoiceRegistry on anvil) and the catalogue."""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.artifacts import bind
from contracts.deploy import Deployment, deploy_all
from contracts.eip712 import ModelTerms, registry_domain, sign_model_terms
from studio.db.models import Account, VoiceModel
from studio.local_chain import dev_roles
from studio.services import Services
from tests.studio.request_bodies import terms_body
from tests.studio.wallets import Wallet, sign_in


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AnvilNode, Path]]:
    with AnvilNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        deployment = deploy_all(w3, node.dev_accounts[0], **dev_roles(node, epoch_length_s=3600))
        path = tmp_path_factory.mktemp("deployment") / "deployment.json"
        deployment.save(path)
        yield node, path


@pytest.fixture
def app(chain: tuple[AnvilNode, Path], make_client: Callable[..., TestClient]) -> TestClient:
    node, path = chain
    relayer = "0x" + bytes(node.dev_accounts[1].key).hex()
    return make_client(
        chain_rpc_url=node.rpc_url,
        chain_id=node.chain_id,
        deployment_file=path,
        relayer_key=relayer,
    )


def _trained_voice(client: TestClient, wallet: Wallet) -> str:
    """A voice with a trained artifact, set up directly (training is tested in test_jobs)."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    with services.db() as db:
        creator = db.scalars(select(Account).where(Account.address == wallet.address)).one()
        vm = VoiceModel(
            creator_id=creator.id,
            name="Test voice",
            status="ready",
            method="baseline",
            artifact_sha256=hashlib.sha256(uuid.uuid4().bytes).hexdigest(),
            created_at=services.clock(),
        )
        db.add(vm)
        db.commit()
        return str(vm.id)


def _terms(wallet: Wallet, artifact: str, **changes: Any) -> ModelTerms:
    base = ModelTerms(
        creator=wallet.address,
        payout=wallet.address,
        artifact_hash=bytes.fromhex(artifact),
        metadata_uri="ipfs://voice",
        creator_bps=5000,
        fan_bps=4000,
        platform_bps=1000,
        price_per_play=3000,
        approval_required=False,
        nonce=0,
        deadline=int(time.time()) + 3600,
    )
    return replace(base, **changes)


def test_creator_signs_terms_and_the_voice_opens(app: TestClient) -> None:
    services: Services = app.app.state.services  # type: ignore[attr-defined]
    deployment: Deployment = services.deployment  # type: ignore[assignment]
    domain = registry_domain(deployment.chain_id, deployment.registry)
    creator = Wallet.new()
    headers = sign_in(app, creator, roles=("creator",))
    voice_id = _trained_voice(app, creator)
    artifact = app.get(f"/v1/voices/{voice_id}", headers=headers).json()["artifact_sha256"]
    key = bytes(creator.account.key)

    nonce = int(app.get("/v1/voices/registry/nonce", headers=headers).json()["nonce"])
    assert nonce == 0
    terms = _terms(creator, artifact, nonce=nonce)
    r = app.post(
        f"/v1/voices/{voice_id}/terms",
        json=terms_body(terms, sign_model_terms(key, domain, terms)),
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 1 and r.json()["price_per_play"] == "3000"
    assert r.json()["status"] == "active" and r.json()["tx_hash"]
    catalogue = {v["id"]: v for v in app.get("/v1/voices").json()}
    assert catalogue[voice_id]["terms"]["creator_bps"] == 5000

    # relayed: the registry holds the creator's terms under the model id we recorded
    assert services.chain is not None
    registry = bind(services.chain, "VoiceRegistry", deployment.registry)
    model_id = bytes.fromhex(catalogue[voice_id]["onchain_id"][2:])
    on_chain = registry.functions.termsVersion(model_id, 0).call()
    assert (on_chain[1], on_chain[6]) == (5000, 3000)  # creatorBps, pricePerPlay

    newer = _terms(creator, artifact, nonce=1, price_per_play=4000)
    r = app.post(
        f"/v1/voices/{voice_id}/terms",
        json=terms_body(newer, sign_model_terms(key, domain, newer)),
        headers=headers,
    )
    assert r.status_code == 201 and r.json()["version"] == 2
    assert r.json()["effective_epoch"] == on_chain[5] + 1  # from the next epoch, not now
    assert registry.functions.termsVersionCount(model_id).call() == 2

    # a reused nonce is refused by the registry and nothing is recorded
    replay = _terms(creator, artifact, nonce=1, price_per_play=1)
    r = app.post(
        f"/v1/voices/{voice_id}/terms",
        json=terms_body(replay, sign_model_terms(key, domain, replay)),
        headers=headers,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "registry_refused")
    assert app.get(f"/v1/voices/{voice_id}").json()["terms"]["version"] == 2


def test_a_separate_payout_address_must_sign_too(app: TestClient) -> None:
    services: Services = app.app.state.services  # type: ignore[attr-defined]
    deployment: Deployment = services.deployment  # type: ignore[assignment]
    domain = registry_domain(deployment.chain_id, deployment.registry)
    creator, payout = Wallet.new(), Wallet.new()
    headers = sign_in(app, creator, roles=("creator",))
    voice_id = _trained_voice(app, creator)
    artifact = app.get(f"/v1/voices/{voice_id}", headers=headers).json()["artifact_sha256"]
    terms = _terms(creator, artifact, nonce=0, payout=payout.address)
    body = terms_body(terms, sign_model_terms(bytes(creator.account.key), domain, terms))
    r = app.post(f"/v1/voices/{voice_id}/terms", json=body, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "payout_signature_missing")
    payout_sig = sign_model_terms(bytes(payout.account.key), domain, terms)
    body["payout_signature"] = "0x" + payout_sig.hex()
    r = app.post(f"/v1/voices/{voice_id}/terms", json=body, headers=headers)
    assert r.status_code == 201 and r.json()["status"] == "active", r.text


def test_terms_signature_must_be_the_creators_for_this_registry(app: TestClient) -> None:
    services: Services = app.app.state.services  # type: ignore[attr-defined]
    deployment: Deployment = services.deployment  # type: ignore[assignment]
    domain = registry_domain(deployment.chain_id, deployment.registry)
    creator, impostor = Wallet.new(), Wallet.new()
    headers = sign_in(app, creator, roles=("creator",))
    voice_id = _trained_voice(app, creator)
    artifact = app.get(f"/v1/voices/{voice_id}", headers=headers).json()["artifact_sha256"]
    key = bytes(creator.account.key)
    terms = _terms(creator, artifact)
    url = f"/v1/voices/{voice_id}/terms"

    def post(body: dict[str, Any], h: dict[str, str] = headers) -> tuple[int, str]:
        r = app.post(url, json=body, headers=h)
        return r.status_code, r.json().get("error", {}).get("code", "")

    cases = {
        "impostor": terms_body(terms, sign_model_terms(bytes(impostor.account.key), domain, terms)),
        "other chain": terms_body(
            terms, sign_model_terms(key, registry_domain(1, deployment.registry), terms)
        ),
        "other contract": terms_body(
            terms,
            sign_model_terms(key, registry_domain(deployment.chain_id, deployment.escrow), terms),
        ),
        "other price than signed": {
            **terms_body(terms, sign_model_terms(key, domain, terms)),
            "price_per_play": "1",
        },
    }
    for name, body in cases.items():
        assert post(body) == (403, "terms_bad_signature"), name

    expired = _terms(creator, artifact, deadline=int(time.time()) - 1)
    assert post(terms_body(expired, sign_model_terms(key, domain, expired))) == (
        400,
        "signature_expired",
    )
    lopsided = _terms(creator, artifact, platform_bps=2000)
    assert post(terms_body(lopsided, sign_model_terms(key, domain, lopsided))) == (
        400,
        "shares_not_100",
    )

    # only its creator can set a voice's terms
    other_creator = sign_in(app, Wallet.new(), roles=("creator",))
    assert post(terms_body(terms, sign_model_terms(key, domain, terms)), other_creator)[0] == 404
    fan = sign_in(app, Wallet.new(), roles=("fan",))
    assert post(terms_body(terms, sign_model_terms(key, domain, terms)), fan) == (
        403,
        "role_required",
    )
    assert app.get(f"/v1/voices/{voice_id}").status_code == 404  # still closed


def test_without_a_chain_terms_cannot_be_signed(client: TestClient) -> None:
    creator = Wallet.new()
    headers = sign_in(client, creator, roles=("creator",))
    voice_id = _trained_voice(client, creator)
    artifact = client.get(f"/v1/voices/{voice_id}", headers=headers).json()["artifact_sha256"]
    body = terms_body(_terms(creator, artifact), b"\x11" * 65)
    r = client.post(f"/v1/voices/{voice_id}/terms", json=body, headers=headers)
    assert (r.status_code, r.json()["error"]["code"]) == (503, "chain_not_configured")
