"""Deploys the whole contract set and saves/loads its addresses as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from contracts.artifacts import bind, load_artifact
from contracts.transact import Sender, sender_address, transact

DEPLOYMENT_FORMAT = 1


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live and how they were configured. Durations in seconds."""

    chain_id: int
    block_number: int
    deployer: str
    registry: str
    escrow: str
    distributor: str
    token: str
    dev_token: bool
    settlement: str
    guardian: str
    registrar: str
    treasury: str
    dust: str
    epoch_genesis: int
    epoch_length_s: int
    challenge_window_s: int
    withdrawal_delay_s: int

    def epoch_at(self, timestamp: int) -> int:
        """The settlement epoch a unix timestamp falls in (same numbering as on-chain)."""
        return (timestamp - self.epoch_genesis) // self.epoch_length_s

    def to_json(self) -> str:
        """The deployment as a JSON document."""
        return json.dumps({"format": DEPLOYMENT_FORMAT, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        """Parses :meth:`to_json` output; rejects other formats."""
        data: dict[str, Any] = json.loads(text)
        if data.pop("format", None) != DEPLOYMENT_FORMAT:
            raise ValueError(f"unsupported deployment format (want {DEPLOYMENT_FORMAT})")
        return cls(**data)

    def save(self, path: Path) -> None:
        """Writes the deployment to ``path`` (atomically)."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Reads a deployment written by :meth:`save`."""
        return cls.from_json(path.read_text())


@dataclass(frozen=True)
class Contracts:
    """web3 contract objects for a deployment."""

    registry: Contract
    escrow: Contract
    distributor: Contract
    token: Contract


def connect(w3: Web3, deployment: Deployment) -> Contracts:
    """Binds the deployment's addresses on ``w3``; checks the chain id and that code exists."""
    if w3.eth.chain_id != deployment.chain_id:
        raise ValueError(
            f"deployment is for chain {deployment.chain_id}, node is on {w3.eth.chain_id}"
        )
    for name in ("registry", "escrow", "distributor", "token"):
        address = Web3.to_checksum_address(getattr(deployment, name))
        if not w3.eth.get_code(address):
            raise ValueError(f"no contract code at {name} {address} on chain {deployment.chain_id}")
    return Contracts(
        registry=bind(w3, "VoiceRegistry", deployment.registry),
        escrow=bind(w3, "PlayEscrow", deployment.escrow),
        distributor=bind(w3, "RoyaltyDistributor", deployment.distributor),
        token=bind(w3, "TestUSD", deployment.token),  # the ERC-20 + permit subset is shared
    )


def deploy_contract(w3: Web3, deployer: Sender, name: str, *args: Any) -> str:
    """Deploys one artifact with constructor ``args``; returns its checksummed address."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = transact(w3, factory.constructor(*args), deployer)
    address = receipt["contractAddress"]
    if address is None:
        raise RuntimeError(f"deploying {name} returned no address")
    return str(address)


def deploy_all(
    w3: Web3,
    deployer: Sender,
    *,
    settlement: str,
    guardian: str,
    treasury: str,
    dust: str,
    epoch_length_s: int,
    challenge_window_s: int,
    withdrawal_delay_s: int,
    dev_token: bool,
    token: str | None = None,
    registrar: str | None = None,
    epoch_genesis: int | None = None,
) -> Deployment:
    """Deploys TestUSD (when ``dev_token``), VoiceRegistry, RoyaltyDistributor and PlayEscrow.

    The deployer keeps DEFAULT_ADMIN_ROLE everywhere; ``settlement`` proposes roots and redeems
    vouchers; ``guardian`` vetoes roots; ``registrar`` (default: ``settlement``) registers tracks
    for fans; the escrow gets the distributor's FUNDER_ROLE. ``epoch_genesis`` defaults to the
    latest block's timestamp. Without ``dev_token`` pass the stablecoin's address as ``token``.
    """
    if dev_token == (token is not None):
        raise ValueError("pass exactly one of dev_token=True or token=<address>")
    chain_id = w3.eth.chain_id
    latest = w3.eth.get_block("latest")
    genesis = int(latest["timestamp"]) if epoch_genesis is None else epoch_genesis
    registrar = registrar or settlement
    admin = sender_address(deployer)
    token_address = deploy_contract(w3, deployer, "TestUSD") if token is None else token
    registry = deploy_contract(
        w3, deployer, "VoiceRegistry", admin, treasury, dust, genesis, epoch_length_s
    )
    distributor = deploy_contract(
        w3,
        deployer,
        "RoyaltyDistributor",
        admin,
        settlement,
        guardian,
        token_address,
        challenge_window_s,
        genesis,
        epoch_length_s,
    )
    escrow = deploy_contract(
        w3, deployer, "PlayEscrow", admin, settlement, distributor, withdrawal_delay_s
    )
    reg = bind(w3, "VoiceRegistry", registry)
    dist = bind(w3, "RoyaltyDistributor", distributor)
    transact(
        w3,
        reg.functions.grantRole(reg.functions.REGISTRAR_ROLE().call(), registrar),
        deployer,
    )
    receipt = transact(
        w3, dist.functions.grantRole(dist.functions.FUNDER_ROLE().call(), escrow), deployer
    )
    return Deployment(
        chain_id=chain_id,
        block_number=int(receipt["blockNumber"]),
        deployer=admin,
        registry=registry,
        escrow=escrow,
        distributor=distributor,
        token=str(Web3.to_checksum_address(token_address)),
        dev_token=dev_token,
        settlement=str(Web3.to_checksum_address(settlement)),
        guardian=str(Web3.to_checksum_address(guardian)),
        registrar=str(Web3.to_checksum_address(registrar)),
        treasury=str(Web3.to_checksum_address(treasury)),
        dust=str(Web3.to_checksum_address(dust)),
        epoch_genesis=genesis,
        epoch_length_s=epoch_length_s,
        challenge_window_s=challenge_window_s,
        withdrawal_delay_s=withdrawal_delay_s,
    )


def load_or_deploy(w3: Web3, path: Path, deployer: Sender, **config: Any) -> Deployment:
    """The deployment saved at ``path`` if its contracts exist on ``w3``'s chain; otherwise a
    fresh :func:`deploy_all` with ``config``, saved to ``path``. For the embedded dev chain
    (anvil with a state file): the first start deploys, later starts reuse."""
    if path.is_file():
        saved = Deployment.load(path)
        try:
            connect(w3, saved)
        except ValueError:
            pass  # another chain, or a chain reset: deploy afresh
        else:
            return saved
    deployment = deploy_all(w3, deployer, **config)
    path.parent.mkdir(parents=True, exist_ok=True)
    deployment.save(path)
    return deployment
