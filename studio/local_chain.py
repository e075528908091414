"""The embedded chain of ``timbre run``: anvil with its state persisted under ``var/chain``
(saved every second, so it survives a kill) and the contracts deployed once into it.

Only used when no ``TIMBRE_CHAIN_RPC_URL`` is set outside production; a real deployment
points at an EVM RPC and a deployment file instead."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from contracts.anvil import AnvilNode, dev_accounts
from contracts.deploy import Deployment, load_or_deploy
from studio.settings import Settings

log = logging.getLogger("studio.chain")

# Roles of anvil's well-known dev accounts in the local demo chain (all keys are public).
DEPLOYER, SETTLEMENT, GUARDIAN, TREASURY, DUST = range(5)
DEMO_EPOCH_LENGTH_S = 10 * 60


@dataclass
class LocalChain:
    node: AnvilNode
    deployment: Deployment
    deployment_file: Path

    def settings_for(self, settings: Settings) -> Settings:
        """The settings with this chain plugged in (relayer = the settlement dev account)."""
        relayer = dev_accounts(SETTLEMENT + 1)[SETTLEMENT]
        return settings.model_copy(
            update={
                "chain_rpc_url": self.node.rpc_url,
                "chain_id": self.node.chain_id,
                "deployment_file": self.deployment_file,
                "relayer_key": _secret("0x" + bytes(relayer.key).hex()),
                "demo_wallets": settings.demo_wallets or 3,
            }
        )

    def stop(self) -> None:
        self.node.stop()


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


def dev_roles(node: AnvilNode, *, epoch_length_s: int) -> dict[str, Any]:
    """``deploy_all`` arguments for a dev chain: roles taken by anvil's dev accounts, TestUSD."""
    dev = node.dev_accounts
    return {
        "settlement": dev[SETTLEMENT].address,
        "guardian": dev[GUARDIAN].address,
        "treasury": dev[TREASURY].address,
        "dust": dev[DUST].address,
        "epoch_length_s": epoch_length_s,
        "challenge_window_s": 60,
        "withdrawal_delay_s": 3600,
        "dev_token": True,
    }


def start_local_chain(settings: Settings) -> LocalChain:
    """Start anvil on ``var/chain/anvil-state.json`` and make sure the contracts are there."""
    directory = settings.var_dir / "chain"
    directory.mkdir(parents=True, exist_ok=True)
    node = AnvilNode(chain_id=settings.chain_id, state_file=directory / "anvil-state.json")
    node.start()
    try:
        w3 = Web3(Web3.HTTPProvider(node.rpc_url))
        path = directory / "deployment.json"
        previous = Deployment.load(path) if path.exists() else None
        # First run, or the chain state was lost: deploy afresh; otherwise reuse.
        deployment = load_or_deploy(
            w3,
            path,
            node.dev_accounts[DEPLOYER],
            **dev_roles(node, epoch_length_s=DEMO_EPOCH_LENGTH_S),
        )
        if deployment != previous:
            log.info(
                "deployed contracts to the local chain", extra={"registry": deployment.registry}
            )
        return LocalChain(node, deployment, path)
    except BaseException:
        node.stop()
        raise
