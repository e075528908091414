"""ERC-1271: a contract wallet signs in when a chain is configured, on a real anvil node."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.artifacts import bind
from contracts.deploy import deploy_contract
from contracts.transact import transact
from tests.studio.wallets import Wallet, nonce

ALWAYS_INVALID = 2  # MaliciousWallet.Mode


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    with AnvilNode() as node:
        yield node


def _sign_in_as(client: TestClient, address: str, signer: Wallet) -> tuple[int, dict[str, Any]]:
    """A SIWE message naming ``address`` (a contract), signed with ``signer``'s key."""
    text = signer.siwe_message(nonce(client)).replace(signer.address, address)
    r = client.post("/v1/auth/siwe", json={"message": text, "signature": signer.sign(text)})
    return r.status_code, r.json()


def test_contract_wallet_signs_in_through_erc1271(
    anvil: AnvilNode, make_client: Callable[..., TestClient]
) -> None:
    client = make_client(chain_rpc_url=anvil.rpc_url, chain_id=anvil.chain_id)
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    owner, stranger = Wallet.new(), Wallet.new()
    deployer = anvil.dev_accounts[0]
    wallet_address = deploy_contract(w3, deployer, "MaliciousWallet", owner.address)

    status, body = _sign_in_as(client, wallet_address, owner)
    assert status == 200, body
    assert body["address"] == wallet_address

    status, body = _sign_in_as(client, wallet_address, stranger)
    assert status == 401
    assert body["error"]["code"] == "siwe_bad_signature"

    contract = bind(w3, "MaliciousWallet", wallet_address)
    transact(w3, contract.functions.setMode(ALWAYS_INVALID), deployer)
    status, body = _sign_in_as(client, wallet_address, owner)
    assert (status, body["error"]["code"]) == (401, "siwe_bad_signature")


def test_without_a_chain_contract_wallets_cannot_sign_in(
    anvil: AnvilNode, make_client: Callable[..., TestClient]
) -> None:
    client = make_client()  # no TIMBRE_CHAIN_RPC_URL
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    owner = Wallet.new()
    wallet_address = deploy_contract(w3, anvil.dev_accounts[0], "MaliciousWallet", owner.address)
    status, body = _sign_in_as(client, wallet_address, owner)
    assert (status, body["error"]["code"]) == (401, "siwe_bad_signature")
