"""The cumulative payout root an epoch proposes to ``RoyaltyDistributor``. Amounts in token base
units.

Each leaf is ``(account, cumulative entitlement)`` (OpenZeppelin StandardMerkleTree leaf, built
by :class:`contracts.merkle.PayoutTree`); a payee claims ``cumulative - alreadyClaimed``.
``proposeRoot``'s ``epochTotal`` is the *increment* the root adds: its documented meaning is "new
cumulative total minus the previous", and the contract adds it to ``totalAllocated`` and checks
``totalAllocated <= totalReceived``. The previous total is the distributor's ``totalAllocated``
(the sum of the totals of every root not vetoed), so a vetoed root's epoch is re-proposed
against the last root that stood.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from contracts.merkle import PayoutTree, leaf_hash, verify
from royalties.errors import PayoutError
from royalties.splits import checksum


@dataclass(frozen=True)
class Payouts:
    """An epoch's cumulative leaves and what ``proposeRoot`` takes.

    ``leaves`` maps checksummed accounts to cumulative base units (no zero leaves);
    ``total`` is their sum; ``previous_total`` the distributor's ``totalAllocated`` before this
    root; ``epoch_total = total - previous_total``.
    """

    epoch: int
    leaves: Mapping[str, int]
    previous_total: int

    @cached_property
    def tree(self) -> PayoutTree:
        """The Merkle tree (built on first use)."""
        return PayoutTree(self.leaves.items())

    @property
    def root(self) -> bytes:
        """The 32-byte root for ``proposeRoot``."""
        return self.tree.root

    @property
    def total(self) -> int:
        """Sum of the cumulative leaves, base units."""
        return sum(self.leaves.values())

    @property
    def epoch_total(self) -> int:
        """Base units this root adds over the previous one (``proposeRoot``'s epochTotal)."""
        return self.total - self.previous_total

    def proof(self, account: str) -> list[bytes]:
        """The Merkle proof of ``account``'s leaf; KeyError when it has none."""
        return self.tree.proof(checksum(account))

    def proofs(self) -> dict[str, list[bytes]]:
        """Every account's proof (what ``GET /v1/payouts/me`` serves)."""
        return {account: self.tree.proof(account) for account in self.leaves}


def build_payouts(
    epoch: int,
    cumulative: Mapping[str, int],
    *,
    previous_total: int,
    previous_leaves: Mapping[str, int] | None = None,
) -> Payouts:
    """The payouts of ``epoch`` from each account's cumulative entitlement (base units).

    ``previous_total`` is the distributor's ``totalAllocated`` now. When ``previous_leaves``
    (the last root's leaves) are given, every account's leaf is checked not to go down: a
    lower leaf would make the account's claim revert and could strand another payee's.
    """
    leaves: dict[str, int] = {}
    for account, amount in cumulative.items():
        key = checksum(account)
        if key in leaves:
            raise PayoutError(f"account {key} appears twice")
        if amount < 0:
            raise PayoutError(f"negative entitlement {amount} for {key}")
        if amount:
            leaves[key] = amount
    if not leaves:
        raise PayoutError(f"epoch {epoch}: nothing is owed to anyone yet; no root to propose")
    if previous_leaves is not None:
        for account, before in previous_leaves.items():
            now = leaves.get(checksum(account), 0)
            if now < before:
                raise PayoutError(f"leaf of {account} would go down: {before} -> {now}")
    payouts = Payouts(epoch, dict(sorted(leaves.items())), previous_total)
    if previous_total < 0 or payouts.epoch_total < 0:
        raise PayoutError(
            f"epoch {epoch}: cumulative total {payouts.total} is below the total already "
            f"allocated on-chain {previous_total}"
        )
    return payouts


def verify_proof(root: bytes, account: str, cumulative: int, proof: list[bytes]) -> bool:
    """Off-chain twin of ``RoyaltyDistributor.verifyProof``."""
    return verify(root, leaf_hash(checksum(account), cumulative), proof)
