"""The play log's Merkle tree is RFC 6962's; the frontier agrees with the whole-log root; every
play has an inclusion proof and nothing else does."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from royalties.errors import UsageLogError
from royalties.usage_log import (
    EMPTY_ROOT,
    UsageFrontier,
    UsageRecord,
    _mth,
    inclusion_proof,
    usage_root,
    verify_inclusion,
)

# RFC 6962 test vectors (certificate-transparency reference implementation).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]
CT_LEAVES.append("606162636465666768696a6b6c6d6e6f")
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def record(i: int) -> UsageRecord:
    return UsageRecord(i + 1, bytes([i % 251]) * 32, 3_000 + i, 1_700_000_000 + i)


def test_tree_hash_is_rfc6962() -> None:
    leaves = [hashlib.sha256(b"\x00" + bytes.fromhex(d)).digest() for d in CT_LEAVES]
    for n, root in enumerate(CT_ROOTS, start=1):
        assert _mth(leaves[:n]).hex() == root
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_record_encoding_is_abi_words() -> None:
    r = UsageRecord(7, b"\xab" * 32, 3_000, 1_700_000_000)
    assert r.encode() == (
        (7).to_bytes(32, "big")
        + b"\xab" * 32
        + (3_000).to_bytes(32, "big")
        + (1_700_000_000).to_bytes(32, "big")
    )
    with pytest.raises(UsageLogError):
        UsageRecord(2**64, b"\xab" * 32, 1, 1).encode()
    with pytest.raises(UsageLogError):
        UsageRecord(1, b"\xab", 1, 1).encode()


def test_frontier_matches_whole_log_and_every_proof_verifies() -> None:
    records = [record(i) for i in range(70)]
    frontier = UsageFrontier()
    assert frontier.root() == usage_root([])
    for n in range(1, len(records) + 1):
        frontier = frontier.append(records[n - 1])
        root = usage_root(records[:n])
        assert frontier.root() == root
        assert frontier.size == n and len(frontier.peaks) == n.bit_count()
        assert UsageFrontier.unpack(n, frontier.packed_peaks()) == frontier
        if n in (1, 2, 3, 5, 8, 13, 33, 64, 70):
            for i in range(n):
                proof = inclusion_proof(records[:n], i)
                assert verify_inclusion(root, n, i, records[i], proof)
                assert not verify_inclusion(root, n, i, record(i + 1000), proof)
                assert not verify_inclusion(root, n, (i + 1) % n, records[i], proof) or n == 1
                assert not verify_inclusion(usage_root(records[: n - 1]), n, i, records[i], proof)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 200), st.data())
def test_proof_of_any_play_in_any_log(n: int, data: st.DataObject) -> None:
    records = [record(i) for i in range(n)]
    i = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(records, i)
    assert len(proof) <= (n - 1).bit_length()
    assert verify_inclusion(usage_root(records), n, i, records[i], proof)
    if proof:
        bad = [*proof[:-1], bytes(32)]
        assert not verify_inclusion(usage_root(records), n, i, records[i], bad)


def test_bad_indices_and_frontiers() -> None:
    with pytest.raises(UsageLogError):
        inclusion_proof([record(0)], 1)
    with pytest.raises(UsageLogError):
        UsageFrontier(3, (bytes(32),))
    with pytest.raises(UsageLogError):
        UsageFrontier.unpack(1, bytes(31))
    assert not verify_inclusion(EMPTY_ROOT, 0, 0, record(0), [])
