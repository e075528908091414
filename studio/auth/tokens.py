"""Opaque bearer secrets: generated with ``secrets``, stored only as sha256."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def token_sha256(token: str) -> str:
    # Tokens carry >= 256 bits of entropy, so a plain hash (no salt, no KDF) is enough and
    # lets the lookup be a single indexed equality.
    return hashlib.sha256(token.encode()).hexdigest()
