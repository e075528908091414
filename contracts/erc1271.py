"""Signature checks that also accept contract wallets (ERC-1271), as the contracts do.

EOAs are checked locally (coincurve); a signer with code is asked ``isValidSignature`` with an
``eth_call`` capped at the same gas PlayEscrow allows, so the answer matches what a redemption
would see at the current block. Contract answers can change later (they are revocable).
"""

from __future__ import annotations

from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3RPCError

from contracts.eip712 import SignatureError, recover_digest

ERC1271_MAGIC = bytes.fromhex("1626ba7e")
ERC1271_GAS_LIMIT = 50_000  # PlayEscrow.ERC1271_GAS_LIMIT
_ABI = [
    {
        "type": "function",
        "name": "isValidSignature",
        "stateMutability": "view",
        "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
        "outputs": [{"name": "", "type": "bytes4"}],
    }
]


def is_valid_signature(w3: Web3, signer: str, digest: bytes, signature: bytes) -> bool:
    """Whether ``signer`` (EOA or ERC-1271 contract) signed ``digest``."""
    address = to_checksum_address(signer)
    try:
        if recover_digest(digest, signature) == address:
            return True
    except SignatureError:
        pass  # not an EOA signature; a contract may still accept it
    if not w3.eth.get_code(address):
        return False
    wallet = w3.eth.contract(address=address, abi=_ABI)
    try:
        answer = wallet.functions.isValidSignature(digest, signature).call(
            {"gas": ERC1271_GAS_LIMIT}
        )
    except (ContractLogicError, Web3RPCError, ValueError):
        return False
    return bytes(answer) == ERC1271_MAGIC
