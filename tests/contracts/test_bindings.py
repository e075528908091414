"""The Python bindings: anvil lifecycle and persistence, deployment save/load/connect, sending
from a local signing key, revert decoding."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from pathlib import Path

import pytest
from web3 import Web3

from contracts import errors, views
from contracts.anvil import AnvilError, AnvilNode
from contracts.deploy import Deployment, connect, deploy_all, load_or_deploy
from contracts.eip712 import sign_digest
from contracts.erc1271 import is_valid_signature
from contracts.transact import TransactionReverted, call, transact
from tests.contracts.chain import Chain


def test_snapshot_revert_and_mining(chain: Chain) -> None:
    node = chain.node
    start = int(node.rpc("eth_blockNumber"), 16)
    snapshot = node.snapshot()
    node.mine(3)
    assert int(node.rpc("eth_blockNumber"), 16) == start + 3
    before = node.latest_timestamp()
    node.increase_time(1_000)
    node.mine()
    assert node.latest_timestamp() >= before + 1_000
    node.revert(snapshot)
    assert int(node.rpc("eth_blockNumber"), 16) == start
    with pytest.raises(AnvilError):
        node.rpc("no_such_method")


def test_manual_mining_mode(tmp_path: Path) -> None:
    with AnvilNode(chain_id=4242, auto_mine=False, accounts=2) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        assert w3.eth.chain_id == 4242
        tx = w3.eth.send_transaction({"from": node.accounts[0], "to": node.accounts[1], "value": 1})
        assert w3.eth.get_transaction(tx)["blockNumber"] is None
        node.mine()
        assert w3.eth.get_transaction_receipt(tx)["status"] == 1


def test_state_file_survives_sigkill_and_deployment_round_trips(tmp_path: Path) -> None:
    state = tmp_path / "chain.json"
    saved = tmp_path / "deployment.json"
    with AnvilNode(state_file=state, chain_id=31338, accounts=6) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        a = node.accounts
        deployment = deploy_all(
            w3,
            node.dev_accounts[0],  # signs locally: the production path
            settlement=a[1],
            guardian=a[2],
            treasury=a[3],
            dust=a[4],
            epoch_length_s=60,
            challenge_window_s=10,
            withdrawal_delay_s=100,
            dev_token=True,
        )
        deployment.save(saved)
        # --state-interval 1: wait until a dump holds the last contract deployed.
        needle = deployment.escrow.lower()[2:]
        deadline = time.monotonic() + 15
        while not (state.exists() and needle in state.read_text().lower()):
            assert time.monotonic() < deadline, "anvil never saved its state"
            time.sleep(0.2)
        time.sleep(1.2)  # and one more interval, for the role grants after it
        process = node._process
        assert process is not None
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    loaded = Deployment.load(saved)
    assert loaded == deployment
    assert loaded.epoch_at(loaded.epoch_genesis + 61) == 1
    with AnvilNode(state_file=state, chain_id=31338, accounts=6) as node:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        bound = connect(w3, loaded)
        assert bound.token.functions.decimals().call() == 6
    with AnvilNode(chain_id=31339, accounts=1) as other:
        with pytest.raises(ValueError, match="chain 31338"):
            connect(Web3(Web3.HTTPProvider(other.rpc_url)), loaded)
    with AnvilNode(chain_id=31338, accounts=1) as empty:
        with pytest.raises(ValueError, match="no contract code"):
            connect(Web3(Web3.HTTPProvider(empty.rpc_url)), loaded)


def test_deployment_json_rejects_other_formats() -> None:
    with pytest.raises(ValueError, match="format"):
        Deployment.from_json('{"format": 99}')


def test_deploy_all_needs_exactly_one_token_choice(chain: Chain) -> None:
    kwargs = {
        "settlement": chain.roles.settlement.address,
        "guardian": chain.roles.guardian.address,
        "treasury": chain.roles.treasury.address,
        "dust": chain.roles.dust.address,
        "epoch_length_s": 60,
        "challenge_window_s": 1,
        "withdrawal_delay_s": 1,
    }
    with pytest.raises(ValueError, match="exactly one"):
        deploy_all(chain.w3, chain.roles.deployer.address, dev_token=False, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exactly one"):
        deploy_all(
            chain.w3,
            chain.roles.deployer.address,
            dev_token=True,
            token=chain.deployment.token,
            **kwargs,  # type: ignore[arg-type]
        )


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnvilError, match="anvil binary not found"):
        AnvilNode(binary=tmp_path / "anvil", accounts=1).start()


def test_reverts_decode_for_local_signers_and_calls(chain: Chain) -> None:
    signer = chain.roles.fan  # a LocalAccount: signs here, sends raw
    receipt = transact(chain.w3, chain.token.functions.faucet(signer.address, 5), signer)
    assert receipt["status"] == 1
    with pytest.raises(errors.FaucetLimitExceeded):
        transact(chain.w3, chain.token.functions.faucet(signer.address, 10**30), signer)
    with pytest.raises(errors.UnknownModel):
        call(chain.registry.functions.termsAt(b"\x01" * 32, 0))
    with pytest.raises(errors.NotAccount):
        call(
            chain.distributor.functions.claim(chain.roles.creator.address, 1, []),
            sender=signer.address,
        )


def test_typed_views(chain: Chain) -> None:
    model_id = chain.register_model()
    song = b"\x71" * 32
    fan = chain.roles.fan
    chain.tx(chain.registry.functions.registerTrack(model_id, song, fan.address, 0, b""), fan)
    epoch = chain.epoch()
    m = views.model(chain.registry, model_id)
    assert m is not None and (m.creator, m.retired) == (chain.roles.creator.address, False)
    assert views.model(chain.registry, b"\x00" * 32) is None
    terms = views.terms_at(chain.registry, model_id, epoch)
    assert (terms.creator_bps + terms.fan_bps + terms.platform_bps, terms.from_epoch) == (
        views.BPS,
        epoch,
    )
    t = views.track(chain.registry, song)
    assert t is not None and (t.model_id, t.fan) == (model_id, fan.address)
    assert views.track(chain.registry, b"\x72" * 32) is None
    assert views.track_terms_at(chain.registry, song, epoch) == (terms, fan.address)
    with pytest.raises(errors.UnknownTrack):
        views.track_terms_at(chain.registry, b"\x72" * 32, epoch)
    channel_id = chain.open_channel(5)
    state = views.channel(chain.escrow, channel_id)
    assert state is not None
    assert (state.balance, state.owner, state.token) == (
        5,
        chain.roles.platform.address,
        chain.deployment.token,
    )
    assert views.channel(chain.escrow, 999) is None


def test_mined_failures_are_replayed_and_decoded(chain: Chain) -> None:
    fn = chain.token.functions.faucet(chain.roles.fan.address, 10**30)
    with pytest.raises(errors.FaucetLimitExceeded):
        transact(chain.w3, fn, chain.roles.fan.address, gas=200_000)  # no estimate: mined, fails
    with pytest.raises(TransactionReverted):
        # Out of gas leaves no revert data to decode.
        transact(
            chain.w3,
            chain.token.functions.faucet(chain.roles.fan.address, 1),
            chain.roles.fan.address,
            gas=30_000,
        )


def test_epochs_are_numbered_the_same_on_and_off_chain(chain: Chain) -> None:
    for _ in range(3):
        now = chain.now()
        on_chain = chain.epoch()
        assert chain.deployment.epoch_at(now) == on_chain
        assert chain.distributor.functions.currentEpoch().call() == on_chain
        chain.warp(chain.deployment.epoch_length_s // 2 + 7)


@pytest.mark.parametrize(("mode", "valid"), [(0, True), (1, True), (2, False), (4, False)])
def test_erc1271_check_matches_the_escrow(chain: Chain, mode: int, valid: bool) -> None:
    wallet = chain.deploy("MaliciousWallet", chain.roles.stranger.address)
    chain.tx(wallet.functions.setMode(mode), chain.roles.stranger)
    digest = b"\x44" * 32
    signature = sign_digest(bytes(chain.roles.stranger.key), digest)
    assert is_valid_signature(chain.w3, wallet.address, digest, signature) is valid
    # EOAs: checked locally.
    assert is_valid_signature(chain.w3, chain.roles.stranger.address, digest, signature)
    assert not is_valid_signature(chain.w3, chain.roles.fan.address, digest, signature)
    assert not is_valid_signature(chain.w3, chain.roles.fan.address, digest, b"\x00" * 65)


def test_load_or_deploy_reuses_a_live_deployment(chain: Chain, tmp_path: Path) -> None:
    r = chain.roles
    config = {
        "settlement": r.settlement.address,
        "guardian": r.guardian.address,
        "treasury": r.treasury.address,
        "dust": r.dust.address,
        "epoch_length_s": 60,
        "challenge_window_s": 10,
        "withdrawal_delay_s": 100,
        "dev_token": True,
    }
    path = tmp_path / "var" / "deployment.json"
    first = load_or_deploy(chain.w3, path, r.deployer.address, **config)
    assert load_or_deploy(chain.w3, path, r.deployer.address, **config) == first
    # Saved for another chain (or a reset chain): deploys afresh.
    path.write_text(dataclasses.replace(first, chain_id=1).to_json())
    again = load_or_deploy(chain.w3, path, r.deployer.address, **config)
    assert again.registry != first.registry
    assert Deployment.load(path) == again
