"""Sign-In with Ethereum (EIP-4361): server-issued single-use nonces and message checks.

Parsing and the EOA signature check use the ``siwe`` package; the checks it leaves to the
relying party (URI origin, chain id, issued-at, our nonce store) and ERC-1271 contract
wallets are done here. Every rejection is an ``Unauthorized`` with its own code so clients
can tell a stale nonce from a wrong chain.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import siwe
from eth_account.messages import _hash_eip191_message, encode_defunct
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from web3 import Web3

from contracts.eip712 import SECP256K1_N
from studio.auth.erc1271 import is_valid_erc1271_signature
from studio.db.models import AuthNonce
from studio.errors import Unauthorized, Unprocessable
from studio.settings import Settings

CLOCK_SKEW = timedelta(minutes=5)


def issue_nonce(db: Session, settings: Settings, now: datetime) -> AuthNonce:
    """A fresh nonce (alphanumeric, as EIP-4361 requires), valid for ``nonce_ttl_s``."""
    # Expired nonces are swept here so the table stays small without a separate job.
    db.execute(delete(AuthNonce).where(AuthNonce.expires_at < now - timedelta(days=1)))
    nonce = AuthNonce(
        nonce=secrets.token_hex(16),
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.nonce_ttl_s),
    )
    db.add(nonce)
    return nonce


def _reject(code: str, message: str) -> Unauthorized:
    return Unauthorized(message, code=code)


def verify_sign_in(
    db: Session,
    settings: Settings,
    message: str,
    signature: str,
    now: datetime,
    chain: Web3 | None,
) -> str:
    """Check a signed SIWE message and consume its nonce; returns the checksummed address."""
    try:
        parsed = siwe.SiweMessage.from_message(message)
    except Exception as exc:
        raise Unprocessable(
            "The sign-in message is not a valid EIP-4361 message.", code="siwe_malformed"
        ) from exc

    if parsed.scheme not in (None, settings.siwe_scheme) or parsed.domain != (settings.siwe_domain):
        raise _reject("siwe_wrong_domain", f"This message is for {parsed.domain}, not us.")
    uri = urlsplit(parsed.uri)
    if (uri.scheme, uri.netloc) != (settings.siwe_scheme, settings.siwe_domain):
        raise _reject("siwe_wrong_uri", "The message's URI is not this service.")
    if parsed.chain_id != settings.chain_id:
        raise _reject(
            "siwe_wrong_chain",
            f"The message is for chain {parsed.chain_id}; this service uses {settings.chain_id}.",
        )
    if parsed.expiration_time is not None and now >= parsed.expiration_time._datetime:
        raise _reject("siwe_expired", "The sign-in message has expired.")
    if parsed.not_before is not None and now < parsed.not_before._datetime:
        raise _reject("siwe_not_yet_valid", "The sign-in message is not valid yet.")
    if parsed.issued_at._datetime > now + CLOCK_SKEW:
        raise _reject("siwe_issued_in_future", "The message's issued-at time is in the future.")

    row = db.get(AuthNonce, parsed.nonce)
    if row is None:
        raise _reject("siwe_unknown_nonce", "This nonce was not issued by us.")
    if row.used_at is not None:
        raise _reject("siwe_nonce_used", "This nonce was already used; ask for a new one.")
    if row.expires_at <= now:
        raise _reject("siwe_nonce_expired", "This nonce has expired; ask for a new one.")

    address = to_checksum_address(parsed.address)
    if not _signature_ok(parsed, signature, now, chain, address):
        raise _reject("siwe_bad_signature", "The signature does not match the address.")

    # Single use even under concurrent sign-ins: only one UPDATE can flip used_at.
    consumed = db.execute(
        update(AuthNonce)
        .where(AuthNonce.nonce == parsed.nonce, AuthNonce.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise _reject("siwe_nonce_used", "This nonce was already used; ask for a new one.")
    return address


def _high_s(signature: str) -> bool:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        return False
    return len(raw) == 65 and int.from_bytes(raw[32:64], "big") > SECP256K1_N // 2


def _signature_ok(
    parsed: siwe.SiweMessage, signature: str, now: datetime, chain: Web3 | None, address: str
) -> bool:
    # The siwe package recovers the malleable high-s twin of a signature to the same address;
    # refuse it for EOAs as OpenZeppelin's ECDSA (and our EIP-712 checks) do. A contract
    # wallet's own isValidSignature still decides for its signatures below.
    if not _high_s(signature):
        try:
            parsed.verify(signature, domain=parsed.domain, nonce=parsed.nonce, timestamp=now)
            return True
        except (siwe.VerificationError, BadSignature):  # BadSignature: r is not on the curve
            pass
    if chain is None:
        return False
    try:
        sig_bytes = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        return False
    digest = _hash_eip191_message(encode_defunct(text=parsed.prepare_message()))
    return is_valid_erc1271_signature(chain, to_checksum_address(address), digest, sig_bytes)
