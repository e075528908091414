"""The committed build outputs in ``contracts/artifacts/``: ABI, bytecode, storage layout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    storage_layout: dict[str, Any]


@cache
def load_artifact(name: str) -> Artifact:
    """Loads ``contracts/artifacts/<name>.json`` (cached)."""
    path = ARTIFACTS_DIR / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no artifact {path}: run `make contracts`")
    data = json.loads(path.read_text())
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        storage_layout=data["storageLayout"],
    )


def artifact_names() -> list[str]:
    """Names of every committed artifact, sorted."""
    return sorted(p.stem for p in ARTIFACTS_DIR.glob("*.json"))


def bind(w3: Web3, name: str, address: str) -> Contract:
    """A web3 contract object for the deployed ``name`` at ``address``."""
    checksum: ChecksumAddress = Web3.to_checksum_address(address)
    return w3.eth.contract(address=checksum, abi=load_artifact(name).abi)
