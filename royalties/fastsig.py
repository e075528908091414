"""The voucher's hot path: EIP-712 digest, signing and signer recovery with the fewest and
cheapest hashes, byte-for-byte what :mod:`contracts.eip712` computes.

- keccak-256 from safe-pysha3's C implementation when installed (about 6 µs a hash), else
  pycryptodome's (the eth-hash backend: about 30 µs through its wrappers);
- recovery compares 20-byte addresses: no EIP-55 checksum (another keccak and a 40-character
  loop) on the accepting path;
- a signer's coincurve key is built once (building it derives the public key: most of a
  signature's cost).

Refuses exactly what :func:`contracts.eip712.recover_digest` refuses (OpenZeppelin's ECDSA
rules); ``tests/royalties/test_vouchers.py`` checks both agree.
"""

from __future__ import annotations

from collections.abc import Callable

from coincurve import PrivateKey

from contracts.eip712 import (
    VOUCHER_TYPEHASH,
    Eip712Domain,
    Voucher,
    recover_public_key,
)

keccak256: Callable[[bytes], bytes]
try:
    from sha3 import keccak_256 as _pysha3_keccak  # type: ignore[import-untyped,unused-ignore]

    def keccak256(data: bytes) -> bytes:
        return bytes(_pysha3_keccak(data).digest())

except ImportError:  # pragma: no cover - depends on the environment
    from Crypto.Hash import keccak as _pycryptodome_keccak

    def keccak256(data: bytes) -> bytes:
        return _pycryptodome_keccak.new(digest_bits=256, data=data).digest()


def voucher_digest(domain: Eip712Domain, voucher: Voucher) -> bytes:
    """Equals :func:`contracts.eip712.voucher_digest` (the domain separator is cached)."""
    if len(voucher.usage_root) != 32:
        raise ValueError("usage_root must be 32 bytes")
    struct_hash = keccak256(
        VOUCHER_TYPEHASH
        + voucher.channel_id.to_bytes(32, "big")
        + voucher.cumulative_amount.to_bytes(32, "big")
        + voucher.usage_root
        + voucher.seq.to_bytes(32, "big")
    )
    return keccak256(b"\x19\x01" + domain.separator + struct_hash)


def recover_address(digest: bytes, signature: bytes) -> bytes:
    """The 20-byte address that signed ``digest`` (the same refusals as
    :func:`contracts.eip712.recover_public_key`; no EIP-55 checksum, the fast keccak)."""
    return keccak256(recover_public_key(digest, signature))[-20:]


class Signer:
    """A private key ready to sign digests (65-byte r || s || v, v = 27/28, low s: the same
    deterministic signature as :func:`contracts.eip712.sign_digest`)."""

    def __init__(self, private_key: bytes) -> None:
        self._key = PrivateKey(private_key)

    def sign(self, digest: bytes) -> bytes:
        raw = self._key.sign_recoverable(digest, hasher=None)
        return raw[:64] + bytes([raw[64] + 27])
