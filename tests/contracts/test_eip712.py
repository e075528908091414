"""EIP-712: the fast path agrees with eth-account and with the contracts; signatures bind one
chain, one contract and one purpose; malleable signatures are refused."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.eip712 import (
    SECP256K1_N,
    ModelTerms,
    SignatureError,
    TrackApproval,
    Voucher,
    escrow_domain,
    model_terms_digest,
    model_terms_typed_data,
    recover_digest,
    recover_voucher_signer,
    registry_domain,
    sign_digest,
    sign_voucher,
    track_approval_digest,
    track_approval_typed_data,
    voucher_digest,
    voucher_typed_data,
)
from tests.contracts.chain import Chain

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS = Account.from_key(KEY).address
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"

uint256 = st.integers(min_value=0, max_value=2**256 - 1)
b32 = st.binary(min_size=32, max_size=32)


def _eth_account_digest(typed: dict[str, object]) -> bytes:
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


@settings(max_examples=40, deadline=None)
@given(channel=uint256, amount=uint256, root=b32, seq=st.integers(0, 2**64 - 1))
def test_voucher_fast_path_matches_eth_account(
    channel: int, amount: int, root: bytes, seq: int
) -> None:
    domain = escrow_domain(31337, CONTRACT)
    voucher = Voucher(channel, amount, root, seq)
    typed = voucher_typed_data(domain, voucher)
    assert voucher_digest(domain, voucher) == _eth_account_digest(typed)
    signature = sign_voucher(KEY, domain, voucher)
    reference = Account.sign_typed_data(KEY, full_message=typed)
    assert signature == bytes(reference.signature)  # RFC 6979: both deterministic
    assert recover_voucher_signer(domain, voucher, signature) == ADDRESS


@settings(max_examples=25, deadline=None)
@given(
    uri=st.text(max_size=40),
    shares=st.tuples(*(st.integers(0, 2**16 - 1),) * 3),
    price=uint256,
    approval=st.booleans(),
    nonce=uint256,
)
def test_model_terms_fast_path_matches_eth_account(
    uri: str, shares: tuple[int, int, int], price: int, approval: bool, nonce: int
) -> None:
    domain = registry_domain(8453, CONTRACT)
    terms = ModelTerms(ADDRESS, CONTRACT, b"\x05" * 32, uri, *shares, price, approval, nonce, 99)
    typed = model_terms_typed_data(domain, terms)
    assert model_terms_digest(domain, terms) == _eth_account_digest(typed)


def test_track_approval_fast_path_matches_eth_account() -> None:
    domain = registry_domain(1, CONTRACT)
    approval = TrackApproval(b"\x01" * 32, b"\x02" * 32, ADDRESS, 1234)
    typed = track_approval_typed_data(domain, approval)
    assert track_approval_digest(domain, approval) == _eth_account_digest(typed)


def test_domains_and_type_hashes_separate_purposes() -> None:
    voucher = Voucher(1, 2, b"\x00" * 32, 3)
    base = voucher_digest(escrow_domain(1, CONTRACT), voucher)
    assert voucher_digest(escrow_domain(2, CONTRACT), voucher) != base  # other chain
    other = "0x0000000000000000000000000000000000000001"
    assert voucher_digest(escrow_domain(1, other), voucher) != base  # other contract
    # Same domain name/contract, other purpose: the registry's type hash differs.
    approval = TrackApproval((1).to_bytes(32, "big"), (2).to_bytes(32, "big"), CONTRACT, 3)
    assert track_approval_digest(escrow_domain(1, CONTRACT), approval) != base


def test_high_s_and_malformed_signatures_are_refused() -> None:
    digest = b"\x33" * 32
    signature = sign_digest(KEY, digest)
    assert recover_digest(digest, signature) == ADDRESS
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    twin = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    with pytest.raises(SignatureError, match="high-s"):
        recover_digest(digest, twin)
    with pytest.raises(SignatureError, match="65 bytes"):
        recover_digest(digest, signature[:64])
    with pytest.raises(SignatureError, match="v must be"):
        recover_digest(digest, signature[:64] + b"\x01")
    with pytest.raises(SignatureError, match="out of range"):
        recover_digest(digest, b"\x00" * 32 + signature[32:])


def test_contracts_compute_the_same_digests(chain: Chain) -> None:
    reg, esc = chain.registry_domain, chain.escrow_domain
    assert bytes(chain.registry.functions.domainSeparator().call()) == reg.separator
    assert bytes(chain.escrow.functions.domainSeparator().call()) == esc.separator
    terms = chain.terms(metadata_uri="ipfs://ü", approval_required=True)
    on_chain = chain.registry.functions.hashModelTerms(terms.as_tuple()).call()
    assert bytes(on_chain) == model_terms_digest(reg, terms)
    approval = TrackApproval(b"\x0a" * 32, b"\x0b" * 32, chain.roles.fan.address, 77)
    on_chain = chain.registry.functions.hashTrackApproval(
        approval.model_id, approval.content_hash, approval.fan, approval.deadline
    ).call()
    assert bytes(on_chain) == track_approval_digest(reg, approval)
    voucher = Voucher(9, 10**12, b"\x0c" * 32, 2**63)
    on_chain = chain.escrow.functions.hashVoucher(9, 10**12, b"\x0c" * 32, 2**63).call()
    assert bytes(on_chain) == voucher_digest(esc, voucher)


def test_type_hashes_and_roles_match_the_contracts(chain: Chain) -> None:
    from contracts import eip712

    registry, escrow, dist = (
        chain.registry.functions,
        chain.escrow.functions,
        chain.distributor.functions,
    )
    assert bytes(registry.MODEL_TERMS_TYPEHASH().call()) == eip712.MODEL_TERMS_TYPEHASH
    assert bytes(registry.TRACK_APPROVAL_TYPEHASH().call()) == eip712.TRACK_APPROVAL_TYPEHASH
    assert bytes(escrow.VOUCHER_TYPEHASH().call()) == eip712.VOUCHER_TYPEHASH
    assert registry.MAX_METADATA_URI_BYTES().call() == 512
    assert escrow.ERC1271_GAS_LIMIT().call() == 50_000
    assert escrow.tokenAllowed(chain.deployment.token).call()
    for contract in (registry, escrow, dist):
        assert bytes(contract.DEFAULT_ADMIN_ROLE().call()) == b"\x00" * 32
    assert bytes(escrow.SETTLEMENT_ROLE().call()) == keccak(text="SETTLEMENT_ROLE")
    assert bytes(dist.SETTLEMENT_ROLE().call()) == keccak(text="SETTLEMENT_ROLE")
    assert bytes(dist.GUARDIAN_ROLE().call()) == keccak(text="GUARDIAN_ROLE")
    assert dist.hasRole(dist.GUARDIAN_ROLE().call(), chain.deployment.guardian).call()
    assert dist.hasRole(dist.FUNDER_ROLE().call(), chain.deployment.escrow).call()
