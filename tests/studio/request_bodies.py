"""Request bodies built from signed EIP-712 structs, shared by the studio and scale tests:
``POST /v1/voices/{voice_id}/terms`` (``ModelTerms``) and ``POST /v1/access`` (``Voucher``)."""

from __future__ import annotations

from typing import Any

from contracts.eip712 import ModelTerms, Voucher


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


def access_request(
    track: dict[str, Any], timestamp: int, voucher: Voucher, signature: str
) -> dict[str, Any]:
    """The body of ``POST /v1/access``: one play of ``track`` paid by ``voucher``."""
    return {
        "track_id": track["id"],
        "timestamp": timestamp,
        "voucher": {
            "channel_id": str(voucher.channel_id),
            "cumulative_amount": str(voucher.cumulative_amount),
            "usage_root": "0x" + voucher.usage_root.hex(),
            "seq": voucher.seq,
        },
        "signature": signature,
    }
