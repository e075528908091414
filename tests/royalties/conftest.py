"""One anvil per test module with the contracts deployed once; each test runs between an
evm_snapshot and an evm_revert."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from contracts.anvil import AnvilNode
from contracts.deploy import connect, deploy_all
from tests.royalties.anvil_world import EPOCH_S, WINDOW_S, Net


@pytest.fixture(scope="module")
def base_net() -> Iterator[Net]:
    with AnvilNode() as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url, request_kwargs={"timeout": 60}))
        acc = node.dev_accounts
        d = deploy_all(
            w3,
            acc[0].address,
            settlement=acc[1].address,
            guardian=acc[2].address,
            treasury=acc[3].address,
            dust=acc[4].address,
            epoch_length_s=EPOCH_S,
            challenge_window_s=WINDOW_S,
            withdrawal_delay_s=86_400,
            dev_token=True,
        )
        yield Net(node, w3, d, connect(w3, d), acc)


@pytest.fixture
def net(base_net: Net) -> Iterator[Net]:
    snapshot = base_net.node.snapshot()
    try:
        yield base_net
    finally:
        base_net.node.revert(snapshot)
