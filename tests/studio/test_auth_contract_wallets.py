"""ERC-1271: a contract wallet signs in when a chain is configured, on a real anvil node."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.artifacts import bind
from contracts.deploy import deploy_contract
from contracts.transact import transact
from studio.auth.erc1271 import ERC1271_GAS_CAP, is_valid_erc1271_signature
from tests.studio.wallets import Wallet, nonce

ALWAYS_INVALID, BURN_GAS = 2, 4  # MaliciousWallet.Mode


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


def test_a_wallet_answers_within_the_gas_cap_or_not_at_all(anvil: AnvilNode) -> None:
    """The node runs a wallet's isValidSignature with at most ERC1271_GAS_CAP gas: an honest
    wallet answers well within it; one that loops is cut off there (not at the node's 30M
    block limit) and refused."""
    w3 = Web3(Web3.HTTPProvider(anvil.rpc_url))
    owner = Wallet.new()
    deployer = anvil.dev_accounts[0]
    address = Web3.to_checksum_address(
        deploy_contract(w3, deployer, "MaliciousWallet", owner.address)
    )
    digest = os.urandom(32)
    signature = bytes(owner.account.unsafe_sign_hash(digest).signature)
    # The studio's view of the chain, its requests observed on the way to the real node (set
    # before its first request: web3 caches the request function then).
    studio = Web3(Web3.HTTPProvider(anvil.rpc_url))
    calls: list[dict[str, Any]] = []
    send = studio.provider.make_request

    def observed(method: Any, params: Any) -> Any:
        if method == "eth_call":
            calls.append(dict(params[0]))
        return send(method, params)

    studio.provider.make_request = observed  # type: ignore[method-assign]
    assert is_valid_erc1271_signature(studio, address, digest, signature)
    transact(w3, bind(w3, "MaliciousWallet", address).functions.setMode(BURN_GAS), deployer)
    assert not is_valid_erc1271_signature(studio, address, digest, signature)
    assert [int(str(c["gas"]), 16) for c in calls] == [ERC1271_GAS_CAP, ERC1271_GAS_CAP]
