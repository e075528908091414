"""ERC-1271 signature check for contract wallets (Safe and friends), used by SIWE sign-in."""

from __future__ import annotations

from eth_abi.abi import encode
from eth_typing import ChecksumAddress
from web3 import Web3

ERC1271_MAGIC = bytes.fromhex("1626ba7e")
_SELECTOR = Web3.keccak(text="isValidSignature(bytes32,bytes)")[:4]
# Gas a contract wallet may spend answering. Without a cap the node runs the call up to its own
# limit (anvil: the 30M block gas limit), so a wallet that loops would make every sign-in
# attempt cost the node that much work. A multisig's check costs tens of thousands; the
# registry's on-chain check (OpenZeppelin SignatureChecker) forwards all gas, so the cap is
# generous enough never to refuse what the chain would accept in practice.
ERC1271_GAS_CAP = 500_000


def is_valid_erc1271_signature(
    w3: Web3, address: ChecksumAddress, digest: bytes, signature: bytes
) -> bool:
    """True only when ``address`` is a contract whose ``isValidSignature`` returns the magic
    value within :data:`ERC1271_GAS_CAP` gas. Reverts, running out of gas, empty code and
    malformed returns are all "not valid"."""
    if not w3.eth.get_code(address):
        return False
    data = _SELECTOR + encode(["bytes32", "bytes"], [digest, signature])
    try:
        result = w3.eth.call({"to": address, "data": data, "gas": ERC1271_GAS_CAP})
    except Exception:  # noqa: BLE001 - a revert or RPC error is a refusal, not a crash
        return False
    return len(result) >= 4 and bytes(result[:4]) == ERC1271_MAGIC
