"""The Python payout tree is what OpenZeppelin's MerkleProof accepts on-chain."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.artifacts import ARTIFACTS_DIR
from contracts.merkle import PayoutTree, hash_pair, leaf_hash, verify
from tests.contracts.chain import Chain, fresh_key

entries = st.dictionaries(
    st.integers(0, 10_000).map(lambda i: fresh_key(i).address),
    st.integers(0, 2**128),
    min_size=1,
    max_size=24,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=entries)
def test_every_proof_verifies_on_chain(chain: Chain, values: dict[str, int]) -> None:
    tree = PayoutTree(values.items())
    dist = chain.distributor.functions
    for account, amount in values.items():
        proof = tree.proof(account)
        assert verify(tree.root, leaf_hash(account, amount), proof)
        assert dist.verifyProof(tree.root, account, amount, proof).call()
        assert not dist.verifyProof(tree.root, account, amount + 1, proof).call()
    assert bytes(chain.distributor.functions.leaf(account, amount).call()) == leaf_hash(
        account, amount
    )


def test_known_standard_merkle_tree_shape() -> None:
    # Two leaves: root = sorted-pair hash of the two leaf hashes; one leaf: root = its leaf.
    a, b = fresh_key(1).address, fresh_key(2).address
    la, lb = leaf_hash(a, 5), leaf_hash(b, 6)
    two = PayoutTree([(a, 5), (b, 6)])
    assert two.root == hash_pair(la, lb)
    assert two.proof(a) == [lb]
    assert PayoutTree([(a, 5)]).root == la
    assert PayoutTree([(a, 5)]).proof(a) == []


def test_bad_inputs_are_refused() -> None:
    a = fresh_key(1).address
    with pytest.raises(ValueError, match="at least one"):
        PayoutTree([])
    with pytest.raises(ValueError, match="duplicate"):
        PayoutTree([(a, 1), (a.lower(), 2)])
    with pytest.raises(ValueError, match="uint256"):
        PayoutTree([(a, -1)])


CONTRACTS_DIR = ARTIFACTS_DIR.parent
_JS_TREES = """
const {StandardMerkleTree} = require("@openzeppelin/merkle-tree");
const trees = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = trees.map((values) => {
  const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
  return {root: tree.root, proofs: values.map((_, i) => tree.getProof(i))};
});
process.stdout.write(JSON.stringify(out));
"""


def test_roots_and_proofs_match_openzeppelin_js() -> None:
    node = shutil.which("node")
    assert node is not None
    rng = random.Random(7)
    trees = [
        [[fresh_key(rng.randrange(10**6)).address, str(rng.randrange(2**200))] for _ in range(n)]
        for n in (1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 100)
    ]
    result = subprocess.run(
        [node, "-e", _JS_TREES],
        input=json.dumps(trees),
        cwd=CONTRACTS_DIR,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for values, js in zip(trees, json.loads(result.stdout), strict=True):
        tree = PayoutTree((a, int(v)) for a, v in values)
        assert "0x" + tree.root.hex() == js["root"]
        for (account, _), proof in zip(values, js["proofs"], strict=True):
            assert ["0x" + p.hex() for p in tree.proof(account)] == proof
