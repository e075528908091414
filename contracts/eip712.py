"""EIP-712 payloads of the Timbre contracts: builders, fast hashing, signing and recovery.

Fast path (the studio verifies a voucher per stream request): the domain separator and type
hashes are computed once, struct hashes are plain ABI encodings hashed with keccak, and
signatures are made and recovered with coincurve (libsecp256k1) instead of eth-account's generic
typed-data walker. The ``*_typed_data`` builders give the same payloads as EIP-712 JSON for
wallets (``eth_signTypedData_v4``); tests check both paths agree.

Every signed object binds the chain id and the verifying contract (the domain) and has its own
type hash, so a signature is valid for one chain, one contract and one purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from coincurve import PrivateKey, PublicKey
from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

REGISTRY_DOMAIN_NAME = "Timbre VoiceRegistry"
ESCROW_DOMAIN_NAME = "Timbre PlayEscrow"
DOMAIN_VERSION = "1"

_DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
_MODEL_TERMS_TYPE = (
    "ModelTerms(address creator,address payout,bytes32 artifactHash,string metadataURI,"
    "uint16 creatorBps,uint16 fanBps,uint16 platformBps,uint256 pricePerPlay,"
    "bool approvalRequired,uint256 nonce,uint256 deadline)"
)
_TRACK_APPROVAL_TYPE = (
    "TrackApproval(bytes32 modelId,bytes32 contentHash,address fan,uint256 deadline)"
)
_VOUCHER_TYPE = "Voucher(uint256 channelId,uint256 cumulativeAmount,bytes32 usageRoot,uint64 seq)"

DOMAIN_TYPEHASH = keccak(text=_DOMAIN_TYPE)
MODEL_TERMS_TYPEHASH = keccak(text=_MODEL_TERMS_TYPE)
TRACK_APPROVAL_TYPEHASH = keccak(text=_TRACK_APPROVAL_TYPE)
VOUCHER_TYPEHASH = keccak(text=_VOUCHER_TYPE)

# Order of the secp256k1 group; a valid s is at most half of it (EIP-2, OpenZeppelin ECDSA).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2


class SignatureError(ValueError):
    """A signature is malformed, has a high s, or a bad v."""


def _fields(type_string: str) -> list[dict[str, str]]:
    inner = type_string[type_string.index("(") + 1 : -1]
    return [{"type": t, "name": n} for t, n in (f.split(" ") for f in inner.split(","))]


@dataclass(frozen=True)
class Eip712Domain:
    """An EIP-712 domain; ``separator`` is computed once."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    @cached_property
    def separator(self) -> bytes:
        """The 32-byte domain separator."""
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    self.verifying_contract,
                ],
            )
        )

    def as_dict(self) -> dict[str, Any]:
        """The domain as EIP-712 JSON."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }

    def digest(self, struct_hash: bytes) -> bytes:
        """keccak256("\\x19\\x01" || separator || struct_hash)."""
        return keccak(b"\x19\x01" + self.separator + struct_hash)


def registry_domain(chain_id: int, registry: str) -> Eip712Domain:
    """The VoiceRegistry's domain on ``chain_id``."""
    return Eip712Domain(REGISTRY_DOMAIN_NAME, DOMAIN_VERSION, chain_id, registry)


def escrow_domain(chain_id: int, escrow: str) -> Eip712Domain:
    """The PlayEscrow's domain on ``chain_id``."""
    return Eip712Domain(ESCROW_DOMAIN_NAME, DOMAIN_VERSION, chain_id, escrow)


# ---------------------------------------------------------------------- payloads


@dataclass(frozen=True)
class ModelTerms:
    """Terms a creator signs. Shares in basis points (sum 10,000); price in token base units."""

    creator: str
    payout: str
    artifact_hash: bytes
    metadata_uri: str
    creator_bps: int
    fan_bps: int
    platform_bps: int
    price_per_play: int
    approval_required: bool
    nonce: int
    deadline: int

    def as_tuple(self) -> tuple[Any, ...]:
        """The ModelTerms struct as a contract argument."""
        return (
            to_checksum_address(self.creator),
            to_checksum_address(self.payout),
            self.artifact_hash,
            self.metadata_uri,
            self.creator_bps,
            self.fan_bps,
            self.platform_bps,
            self.price_per_play,
            self.approval_required,
            self.nonce,
            self.deadline,
        )

    def as_message(self) -> dict[str, Any]:
        """The struct as EIP-712 JSON."""
        keys = [f["name"] for f in _fields(_MODEL_TERMS_TYPE)]
        values = list(self.as_tuple())
        values[2] = "0x" + self.artifact_hash.hex()
        return dict(zip(keys, values, strict=True))


@dataclass(frozen=True)
class TrackApproval:
    """A creator's approval of one derivative track (``deadline`` in unix seconds)."""

    model_id: bytes
    content_hash: bytes
    fan: str
    deadline: int

    def as_message(self) -> dict[str, Any]:
        """The struct as EIP-712 JSON."""
        return {
            "modelId": "0x" + self.model_id.hex(),
            "contentHash": "0x" + self.content_hash.hex(),
            "fan": to_checksum_address(self.fan),
            "deadline": self.deadline,
        }


@dataclass(frozen=True)
class Voucher:
    """A platform's cumulative voucher: channel ``channel_id`` owes ``cumulative_amount`` base
    units in total; ``usage_root`` commits to the plays; ``seq`` increases per voucher."""

    channel_id: int
    cumulative_amount: int
    usage_root: bytes
    seq: int

    def as_tuple(self, signature: bytes) -> tuple[int, int, bytes, int, bytes]:
        """The SignedVoucher struct as a PlayEscrow.claim argument."""
        return (self.channel_id, self.cumulative_amount, self.usage_root, self.seq, signature)

    def as_message(self) -> dict[str, Any]:
        """The struct as EIP-712 JSON."""
        return {
            "channelId": self.channel_id,
            "cumulativeAmount": self.cumulative_amount,
            "usageRoot": "0x" + self.usage_root.hex(),
            "seq": self.seq,
        }


# ---------------------------------------------------------------------- hashing


def model_terms_digest(domain: Eip712Domain, terms: ModelTerms) -> bytes:
    """The digest a creator (and a distinct payout) signs for registerModel / updateTerms."""
    struct_hash = keccak(
        encode(
            [
                "bytes32",
                "address",
                "address",
                "bytes32",
                "bytes32",
                "uint16",
                "uint16",
                "uint16",
                "uint256",
                "bool",
                "uint256",
                "uint256",
            ],
            [
                MODEL_TERMS_TYPEHASH,
                terms.creator,
                terms.payout,
                terms.artifact_hash,
                keccak(text=terms.metadata_uri),
                terms.creator_bps,
                terms.fan_bps,
                terms.platform_bps,
                terms.price_per_play,
                terms.approval_required,
                terms.nonce,
                terms.deadline,
            ],
        )
    )
    return domain.digest(struct_hash)


def track_approval_digest(domain: Eip712Domain, approval: TrackApproval) -> bytes:
    """The digest a creator signs to approve a derivative track."""
    struct_hash = keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "address", "uint256"],
            [
                TRACK_APPROVAL_TYPEHASH,
                approval.model_id,
                approval.content_hash,
                approval.fan,
                approval.deadline,
            ],
        )
    )
    return domain.digest(struct_hash)


def voucher_digest(domain: Eip712Domain, voucher: Voucher) -> bytes:
    """The digest a platform signs for a voucher (hot path: all-static words, no ABI walker)."""
    if len(voucher.usage_root) != 32:
        raise ValueError("usage_root must be 32 bytes")
    struct_hash = keccak(
        VOUCHER_TYPEHASH
        + voucher.channel_id.to_bytes(32, "big")
        + voucher.cumulative_amount.to_bytes(32, "big")
        + voucher.usage_root
        + voucher.seq.to_bytes(32, "big")
    )
    return domain.digest(struct_hash)


# ---------------------------------------------------------------------- typed data (wallets)


def _typed_data(
    domain: Eip712Domain, primary: str, type_string: str, message: dict[str, Any]
) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": _fields(_DOMAIN_TYPE), primary: _fields(type_string)},
        "primaryType": primary,
        "domain": domain.as_dict(),
        "message": message,
    }


def model_terms_typed_data(domain: Eip712Domain, terms: ModelTerms) -> dict[str, Any]:
    """ModelTerms as EIP-712 JSON for a wallet's eth_signTypedData_v4."""
    return _typed_data(domain, "ModelTerms", _MODEL_TERMS_TYPE, terms.as_message())


def track_approval_typed_data(domain: Eip712Domain, approval: TrackApproval) -> dict[str, Any]:
    """TrackApproval as EIP-712 JSON for a wallet's eth_signTypedData_v4."""
    return _typed_data(domain, "TrackApproval", _TRACK_APPROVAL_TYPE, approval.as_message())


def voucher_typed_data(domain: Eip712Domain, voucher: Voucher) -> dict[str, Any]:
    """Voucher as EIP-712 JSON for a wallet's eth_signTypedData_v4."""
    return _typed_data(domain, "Voucher", _VOUCHER_TYPE, voucher.as_message())


# ---------------------------------------------------------------------- signatures


def sign_digest(private_key: bytes, digest: bytes) -> bytes:
    """A 65-byte r || s || v signature (v = 27/28, low s) over a 32-byte digest."""
    raw = PrivateKey(private_key).sign_recoverable(digest, hasher=None)
    return raw[:64] + bytes([raw[64] + 27])


def recover_public_key(digest: bytes, signature: bytes) -> bytes:
    """The 64-byte uncompressed public key (without its 0x04 prefix) that signed ``digest``.

    Rejects what OpenZeppelin's ECDSA rejects: a length other than 65, v other than 27/28,
    s above n/2 (the malleable twin of a valid signature), r or s zero.
    """
    if len(signature) != 65:
        raise SignatureError(f"signature must be 65 bytes, got {len(signature)}")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"v must be 27 or 28, got {v}")
    if s > _HALF_N:
        raise SignatureError("high-s signature (malleable)")
    if r == 0 or s == 0 or r >= SECP256K1_N:
        raise SignatureError("r or s out of range")
    try:
        public = PublicKey.from_signature_and_message(
            signature[:64] + bytes([v - 27]), digest, hasher=None
        )
    except Exception as exc:
        raise SignatureError(f"unrecoverable signature: {exc}") from exc
    return bytes(public.format(compressed=False)[1:])


def recover_digest(digest: bytes, signature: bytes) -> str:
    """The checksummed address that signed ``digest`` (refusals: :func:`recover_public_key`)."""
    return str(to_checksum_address(keccak(recover_public_key(digest, signature))[-20:]))


def recover_voucher_signer(domain: Eip712Domain, voucher: Voucher, signature: bytes) -> str:
    """The EOA that signed ``voucher`` in ``domain`` (ERC-1271 signers need an on-chain check)."""
    return recover_digest(voucher_digest(domain, voucher), signature)


def sign_voucher(private_key: bytes, domain: Eip712Domain, voucher: Voucher) -> bytes:
    """A platform's signature over ``voucher``."""
    return sign_digest(private_key, voucher_digest(domain, voucher))


def sign_model_terms(private_key: bytes, domain: Eip712Domain, terms: ModelTerms) -> bytes:
    """A creator's (or payout's) signature over ``terms``."""
    return sign_digest(private_key, model_terms_digest(domain, terms))


def sign_track_approval(private_key: bytes, domain: Eip712Domain, approval: TrackApproval) -> bytes:
    """A creator's signature approving a track."""
    return sign_digest(private_key, track_approval_digest(domain, approval))
