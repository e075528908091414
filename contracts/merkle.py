"""A Merkle tree of (account, cumulativeAmount) leaves compatible with OpenZeppelin's
StandardMerkleTree (JS ``@openzeppelin/merkle-tree``, leaf encoding ``["address", "uint256"]``).

Leaves are double-hashed, ``keccak256(keccak256(abi.encode(account, amount)))``, so a leaf can
never be confused with an inner node; pairs are hashed in sorted order, which is what
``MerkleProof.verify`` expects. The layout (leaves sorted by hash, stored in reverse at the end
of a flat array, node i's children at 2i+1 and 2i+2) matches the JS library, so roots agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak


def leaf_hash(account: str, amount: int) -> bytes:
    """The StandardMerkleTree leaf of (account, amount in base units)."""
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """keccak256 of the two nodes in ascending order (OpenZeppelin's commutative hash)."""
    return keccak(a + b) if a < b else keccak(b + a)


def verify(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Off-chain twin of ``MerkleProof.verify``."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


class PayoutTree:
    """A tree of cumulative payouts: one leaf per account (base units)."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        self.values: dict[str, int] = {}
        for account, amount in entries:
            key = to_checksum_address(account)
            if key in self.values:
                raise ValueError(f"duplicate account {key}")
            if amount < 0 or amount >= 2**256:
                raise ValueError(f"amount out of uint256 range for {key}: {amount}")
            self.values[key] = amount
        if not self.values:
            raise ValueError("a Merkle tree needs at least one leaf")
        hashed = sorted((leaf_hash(a, v), a) for a, v in self.values.items())
        n = len(hashed)
        self._tree: list[bytes] = [b""] * (2 * n - 1)
        self._index: dict[str, int] = {}
        for i, (h, account) in enumerate(hashed):
            position = len(self._tree) - 1 - i
            self._tree[position] = h
            self._index[account] = position
        for i in range(len(self._tree) - 1 - n, -1, -1):
            self._tree[i] = hash_pair(self._tree[2 * i + 1], self._tree[2 * i + 2])

    @property
    def root(self) -> bytes:
        """The 32-byte root to post on-chain."""
        return self._tree[0]

    def __len__(self) -> int:
        return len(self.values)

    def proof(self, account: str) -> list[bytes]:
        """The sibling path from ``account``'s leaf to the root."""
        i = self._index[to_checksum_address(account)]
        path: list[bytes] = []
        while i > 0:
            sibling = i - 1 if i % 2 == 0 else i + 1
            path.append(self._tree[sibling])
            i = (i - 1) // 2
        return path

    def total(self) -> int:
        """Sum of all leaves (the cumulative total), base units."""
        return sum(self.values.values())
