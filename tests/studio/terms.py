"""The request body of ``POST /v1/voices/{voice_id}/terms`` for signed ``ModelTerms``."""

from __future__ import annotations

from typing import Any

from contracts.eip712 import ModelTerms


def terms_body(terms: ModelTerms, signature: bytes | str, **over: Any) -> dict[str, Any]:
    """The body the API takes for ``terms`` signed with ``signature`` (bytes, sent as 0x-hex; a
    string is sent as it is); ``over`` replaces or adds fields."""
    return {
        "payout_address": terms.payout,
        "creator_bps": terms.creator_bps,
        "fan_bps": terms.fan_bps,
        "platform_bps": terms.platform_bps,
        "price_per_play": str(terms.price_per_play),
        "approval_required": terms.approval_required,
        "metadata_uri": terms.metadata_uri,
        "nonce": str(terms.nonce),
        "deadline": terms.deadline,
        "signature": signature if isinstance(signature, str) else "0x" + signature.hex(),
        **over,
    }
