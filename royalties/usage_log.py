"""A platform's play log as an append-only Merkle tree: the ``usageRoot`` its vouchers sign.

The tree is Certificate Transparency's (RFC 6962 / RFC 9162 section 2.1) with SHA-256:
``leaf = SHA-256(0x00 || record)``, ``node = SHA-256(0x01 || left || right)``, the empty log's
root is ``SHA-256("")``. The root is never checked on-chain, so SHA-256 (about ten times cheaper
than keccak here) is used; the 0x00/0x01 prefixes keep leaves and inner nodes apart.

A record is one charged play, four 32-byte big-endian words (its ABI encoding):
``(uint64 seq, bytes32 trackId, uint256 price, uint64 timestamp)`` where ``seq`` is the voucher
that paid for it, ``price`` is in token base units and ``timestamp`` in unix seconds.

:class:`UsageFrontier` keeps only the peaks (one per set bit of the size, at most 64), so an
append and a root cost a handful of hashes: the studio checks every voucher's root in O(log n).
:func:`inclusion_proof` proves a play from the full log (what the studio keeps in SQL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from royalties.errors import UsageLogError

_LEAF = b"\x00"
_NODE = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


@dataclass(frozen=True)
class UsageRecord:
    """One charged play: voucher ``seq``, 32-byte ``track_id``, ``price`` in base units,
    ``timestamp`` in unix seconds."""

    seq: int
    track_id: bytes
    price: int
    timestamp: int

    def encode(self) -> bytes:
        """The record's 128-byte ABI encoding."""
        if len(self.track_id) != 32:
            raise UsageLogError("track_id must be 32 bytes")
        if not (0 <= self.seq < 2**64 and 0 <= self.timestamp < 2**64 and 0 <= self.price < 2**256):
            raise UsageLogError(f"record field out of range: {self}")
        return (
            self.seq.to_bytes(32, "big")
            + self.track_id
            + self.price.to_bytes(32, "big")
            + self.timestamp.to_bytes(32, "big")
        )

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 || record)."""
        return hashlib.sha256(_LEAF + self.encode()).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


@dataclass(frozen=True)
class UsageFrontier:
    """The right edge of a log of ``size`` records: the roots of its perfect subtrees, largest
    first (what the studio stores per channel)."""

    size: int = 0
    peaks: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.peaks) != self.size.bit_count():
            raise UsageLogError(f"a log of {self.size} records has {self.size.bit_count()} peaks")

    def append(self, record: UsageRecord) -> UsageFrontier:
        """The frontier after appending ``record``."""
        peaks = list(self.peaks)
        node = record.leaf_hash()
        size = self.size
        while size & 1:  # each trailing 1 bit is a peak as tall as ``node``: merge them
            node = _node(peaks.pop(), node)
            size >>= 1
        peaks.append(node)
        return UsageFrontier(self.size + 1, tuple(peaks))

    def packed_peaks(self) -> bytes:
        """The peaks as one byte string (32 bytes each), for a SQL column beside ``size``."""
        return b"".join(self.peaks)

    @classmethod
    def unpack(cls, size: int, packed_peaks: bytes) -> UsageFrontier:
        """The frontier stored as ``size`` and :meth:`packed_peaks`."""
        if len(packed_peaks) % 32:
            raise UsageLogError("packed peaks must be whole 32-byte hashes")
        return cls(size, tuple(packed_peaks[i : i + 32] for i in range(0, len(packed_peaks), 32)))

    def root(self) -> bytes:
        """The RFC 6962 Merkle tree hash of the log."""
        if not self.peaks:
            return EMPTY_ROOT
        node = self.peaks[-1]
        for peak in reversed(self.peaks[:-1]):
            node = _node(peak, node)
        return node


def _split(n: int) -> int:
    """The largest power of two below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return _node(_mth(leaves[:k]), _mth(leaves[k:]))


def usage_root(records: Sequence[UsageRecord]) -> bytes:
    """The root of a whole log (the reference the frontier must agree with)."""
    return _mth([r.leaf_hash() for r in records])


def inclusion_proof(records: Sequence[UsageRecord], index: int) -> list[bytes]:
    """The RFC 6962 audit path of ``records[index]`` in the log ``records``."""
    if not 0 <= index < len(records):
        raise UsageLogError(f"index {index} outside a log of {len(records)} records")
    leaves = [r.leaf_hash() for r in records]
    path: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_mth(leaves[lo + k : hi]))
            hi = lo + k
        else:
            path.append(_mth(leaves[lo : lo + k]))
            lo, m = lo + k, m - k
    path.reverse()  # leaf-to-root order
    return path


def verify_inclusion(
    root: bytes, size: int, index: int, record: UsageRecord, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows ``record`` at ``index`` of the log of ``size`` with ``root``
    (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn, node = index, size - 1, record.leaf_hash()
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            node = _node(p, node)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            node = _node(node, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and node == root
