"""One anvil node per test session with the contracts deployed once; each test runs between
an evm_snapshot and an evm_revert, so tests never see each other's state."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import Deployment, deploy_all
from tests.contracts.chain import (
    CHALLENGE_WINDOW_S,
    EPOCH_LENGTH_S,
    WITHDRAWAL_DELAY_S,
    Chain,
    Roles,
)


@pytest.fixture(scope="session")
def anvil_node() -> Iterator[AnvilNode]:
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil_node: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(anvil_node.rpc_url, request_kwargs={"timeout": 60}))


@pytest.fixture(scope="session")
def roles(anvil_node: AnvilNode) -> Roles:
    return Roles.from_node(anvil_node)


@pytest.fixture(scope="session")
def deployment(w3: Web3, roles: Roles) -> Deployment:
    return deploy_all(
        w3,
        roles.deployer.address,
        settlement=roles.settlement.address,
        guardian=roles.guardian.address,
        treasury=roles.treasury.address,
        dust=roles.dust.address,
        epoch_length_s=EPOCH_LENGTH_S,
        challenge_window_s=CHALLENGE_WINDOW_S,
        withdrawal_delay_s=WITHDRAWAL_DELAY_S,
        dev_token=True,
    )


@pytest.fixture
def chain(anvil_node: AnvilNode, w3: Web3, deployment: Deployment, roles: Roles) -> Iterator[Chain]:
    snapshot = anvil_node.snapshot()
    try:
        yield Chain(anvil_node, w3, deployment, roles)
    finally:
        anvil_node.revert(snapshot)
