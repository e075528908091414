"""The committed artifacts are exactly what the pinned compiler makes of the sources, and every
custom error in them has a Python exception."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from contracts import errors
from contracts.artifacts import ARTIFACTS_DIR, artifact_names, load_artifact

CONTRACTS_DIR = ARTIFACTS_DIR.parent


def test_recompiling_reproduces_the_committed_artifacts(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is required to rebuild the contracts"
    assert (CONTRACTS_DIR / "node_modules" / "solc").is_dir(), "run `make setup` (npm ci)"
    subprocess.run(
        [node, "compile.js", "--out", str(tmp_path)],
        cwd=CONTRACTS_DIR,
        check=True,
        capture_output=True,
        timeout=120,
    )
    built = sorted(p.name for p in tmp_path.glob("*.json"))
    committed = sorted(p.name for p in ARTIFACTS_DIR.glob("*.json"))
    assert built == committed
    for name in built:
        assert (tmp_path / name).read_bytes() == (ARTIFACTS_DIR / name).read_bytes(), name


def test_artifacts_pin_compiler_and_settings() -> None:
    for name in artifact_names():
        data = json.loads((ARTIFACTS_DIR / f"{name}.json").read_text())
        assert data["compiler"]["version"].startswith("0.8.37+")
        assert data["compiler"]["settings"]["evmVersion"] == "cancun"
        assert data["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": 10000}
        assert data["storageLayout"]["storage"] is not None
        # EIP-170: deployable on any EVM chain.
        assert len(bytes.fromhex(data["deployedBytecode"][2:])) <= 24_576, name


def _abi_errors() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in artifact_names():
        for item in load_artifact(name).abi:
            if item["type"] == "error":
                types = ",".join(i["type"] for i in item["inputs"])
                found[item["name"]] = f"{item['name']}({types})"
    return found


@pytest.mark.parametrize("name", sorted(_abi_errors()))
def test_every_custom_error_has_a_python_exception(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, errors.ContractError)
    assert cls.signature == _abi_errors()[name]
    assert errors.error_by_selector(cls.selector()) is cls
    values = [_sample(t) for t in cls.arg_types()]
    decoded = errors.decode_revert("0x" + cls(*values).encode().hex())
    assert type(decoded) is cls
    assert list(decoded.values) == values
    assert set(decoded.kwargs) == set(cls.fields)


def _sample(abi_type: str) -> object:
    if abi_type == "address":
        return "0x000000000000000000000000000000000000dEaD"
    if abi_type.startswith("bytes") and abi_type != "bytes":
        return b"\x01" * int(abi_type[5:])
    if abi_type == "string":
        return "x"
    if abi_type == "bytes":
        return b"\x02"
    return 7


def test_unknown_and_builtin_reverts_decode() -> None:
    assert isinstance(errors.decode_revert(b""), errors.UnknownContractError)
    assert isinstance(errors.decode_revert("0xdeadbeef"), errors.UnknownContractError)
    reason = errors.RevertedWithReason("nope").encode()
    assert errors.decode_revert(reason).values == ("nope",)
    assert isinstance(errors.decode_revert(errors.Panicked(0x11).encode()), ArithmeticError)
    # A known selector with garbage arguments is not mistaken for the error.
    bad = errors.InvalidShares.selector() + b"\x01"
    assert isinstance(errors.decode_revert(bad), errors.UnknownContractError)


def test_errors_inherit_matching_builtins() -> None:
    assert issubclass(errors.AccessControlUnauthorizedAccount, PermissionError)
    assert issubclass(errors.UnknownChannel, LookupError)
    assert issubclass(errors.InvalidShares, ValueError)


# Inherited OpenZeppelin errors that no external call can reach with these contracts: names
# are short constants (ShortStrings), permits take (v, r, s) (no length), ERC-20 internals are
# only called with non-zero addresses, and every token we deploy returns true or reverts.
UNREACHABLE_ERRORS = {
    "InvalidShortString",
    "StringTooLong",
    "ECDSAInvalidSignatureLength",
    "ERC20InvalidApprover",
    "ERC20InvalidSender",
    "SafeERC20FailedOperation",
}
PRODUCT_CONTRACTS = ["VoiceRegistry", "PlayEscrow", "RoyaltyDistributor", "TestUSD"]


def _test_sources() -> str:
    return "".join(p.read_text() for p in Path(__file__).parent.glob("*.py"))


@pytest.mark.parametrize("name", PRODUCT_CONTRACTS)
def test_every_external_function_and_error_is_exercised(name: str) -> None:
    source = _test_sources()
    abi = load_artifact(name).abi
    functions = {i["name"] for i in abi if i["type"] == "function"}
    untested = sorted(f for f in functions if f".{f}(" not in source)
    assert untested == []
    raised = {i["name"] for i in abi if i["type"] == "error"} - UNREACHABLE_ERRORS
    assert sorted(e for e in raised if f"errors.{e}" not in source) == []


def test_every_external_function_has_natspec() -> None:
    missing = []
    for path in sorted((CONTRACTS_DIR / "src").glob("*.sol")):
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if not line.strip().startswith("function "):
                continue
            header = " ".join(lines[i : i + 8]).split("{")[0]
            if " external" not in header and " public" not in header:
                continue
            j = i - 1
            doc = []
            while j >= 0 and lines[j].strip().startswith("///"):
                doc.append(lines[j])
                j -= 1
            if not any("@notice" in d or "@inheritdoc" in d for d in doc):
                missing.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert missing == []
