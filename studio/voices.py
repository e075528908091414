"""Voice models and their terms: catalogue reads, creator-signed terms, fans' acceptances and
the licensing gate every conversion passes."""

from __future__ import annotations

import uuid
from datetime import datetime

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.orm import Session
from web3 import Web3

from contracts.deploy import Deployment
from contracts.eip712 import ModelTerms as SignedTerms
from contracts.eip712 import SignatureError, model_terms_digest, recover_digest, registry_domain
from studio.auth.erc1271 import is_valid_erc1271_signature
from studio.db.models import Account, ModelTerms, TermsAcceptance, VoiceModel
from studio.errors import BadRequest, Conflict, Forbidden, NotFound, ServiceUnavailable
from studio.schemas import TermsIn, TermsOut, VoiceOut

ACTIVE_STATUS = "registered"


def current_terms(vm: VoiceModel) -> ModelTerms | None:
    return vm.terms[-1] if vm.terms else None


def terms_out(t: ModelTerms) -> TermsOut:
    return TermsOut(
        version=t.version,
        payout_address=t.payout_address,
        creator_bps=t.creator_bps,
        fan_bps=t.fan_bps,
        platform_bps=t.platform_bps,
        price_per_play=str(t.price_per_play),
        approval_required=t.approval_required,
        metadata_uri=t.metadata_uri,
        status=t.status,
        effective_epoch=t.effective_epoch,
        tx_hash=t.tx_hash,
        created_at=t.created_at,
    )


def voice_out(db: Session, vm: VoiceModel) -> VoiceOut:
    creator = db.get(Account, vm.creator_id)
    assert creator is not None
    terms = current_terms(vm)
    return VoiceOut(
        id=vm.id,
        creator_address=creator.address,
        name=vm.name,
        description=vm.description,
        status=vm.status,
        method=vm.method,
        artifact_sha256=vm.artifact_sha256,
        created_at=vm.created_at,
        retired_at=vm.retired_at,
        onchain_id=vm.onchain_id,
        terms=terms_out(terms) if terms else None,
    )


def visible_voice(db: Session, voice_id: uuid.UUID, viewer: Account | None) -> VoiceModel:
    """Registered and retired voices are public; drafts only to their creator."""
    vm = db.get(VoiceModel, voice_id)
    if vm is None or (
        vm.status not in (ACTIVE_STATUS, "retired")
        and (viewer is None or vm.creator_id != viewer.id)
    ):
        raise NotFound("No such voice.", code="voice_not_found")
    return vm


def owned_voice(db: Session, voice_id: uuid.UUID, creator: Account) -> VoiceModel:
    vm = db.get(VoiceModel, voice_id)
    if vm is None or vm.creator_id != creator.id:
        raise NotFound("No such voice.", code="voice_not_found")
    return vm


def catalogue(db: Session) -> list[VoiceModel]:
    return list(
        db.scalars(
            select(VoiceModel)
            .where(VoiceModel.status == ACTIVE_STATUS)
            .order_by(VoiceModel.created_at.desc())
        )
    )


def verify_terms_signature(
    body: TermsIn,
    vm: VoiceModel,
    creator: Account,
    deployment: Deployment | None,
    chain: Web3 | None,
    now: datetime,
) -> SignedTerms:
    """The creator's EIP-712 signature over exactly these terms for this registry and chain
    (EOA, or ERC-1271 for a contract wallet)."""
    if deployment is None or chain is None:
        raise ServiceUnavailable(
            "Terms are signed for the on-chain registry, and no chain is configured.",
            code="chain_not_configured",
        )
    if vm.artifact_sha256 is None:
        raise Conflict("Train the voice before setting its terms.", code="voice_not_trained")
    if body.creator_bps + body.fan_bps + body.platform_bps != 10_000:
        raise BadRequest("The three shares must add up to 100 %.", code="shares_not_100")
    if body.deadline <= now.timestamp():
        raise BadRequest("The signature's deadline has passed.", code="signature_expired")
    terms = SignedTerms(
        creator=creator.address,
        payout=to_checksum_address(body.payout_address),
        artifact_hash=bytes.fromhex(vm.artifact_sha256),
        metadata_uri=body.metadata_uri,
        creator_bps=body.creator_bps,
        fan_bps=body.fan_bps,
        platform_bps=body.platform_bps,
        price_per_play=int(body.price_per_play),
        approval_required=body.approval_required,
        nonce=int(body.nonce),
        deadline=body.deadline,
    )
    digest = model_terms_digest(registry_domain(deployment.chain_id, deployment.registry), terms)
    if not _signed_by(chain, digest, body.signature, creator.address):
        raise Forbidden(
            "The terms are not signed by the voice's creator.", code="terms_bad_signature"
        )
    # Sent again, the same signed terms would be adopted as a new version (the relay takes
    # on-chain terms matching a spent nonce as its own earlier send) and every fan's acceptance
    # of the current version would lapse. Other terms under a spent nonce: the registry refuses.
    if any(_same_terms(t, terms) for t in vm.terms):
        raise Conflict(
            "These signed terms were already submitted; sign new terms with the next nonce.",
            code="terms_replayed",
            detail={"nonce": str(terms.nonce)},
        )
    # A payout address other than the creator must prove it can sign on this chain (a wallet
    # that exists only on another chain could be taken by whoever deploys it here).
    if terms.payout != terms.creator and not (
        body.payout_signature and _signed_by(chain, digest, body.payout_signature, terms.payout)
    ):
        raise Forbidden(
            "The payout address must also sign these terms.", code="payout_signature_missing"
        )
    return terms


def _same_terms(row: ModelTerms, terms: SignedTerms) -> bool:
    return (
        int(row.nonce),
        row.payout_address,
        row.creator_bps,
        row.fan_bps,
        row.platform_bps,
        int(row.price_per_play),
        row.approval_required,
        row.metadata_uri or "",
    ) == (
        terms.nonce,
        terms.payout,
        terms.creator_bps,
        terms.fan_bps,
        terms.platform_bps,
        terms.price_per_play,
        terms.approval_required,
        terms.metadata_uri,
    )


def _signed_by(chain: Web3, digest: bytes, signature_hex: str, address: str) -> bool:
    signature = bytes.fromhex(signature_hex.removeprefix("0x"))
    try:
        if recover_digest(digest, signature) == to_checksum_address(address):
            return True
    except SignatureError:
        pass
    return is_valid_erc1271_signature(chain, to_checksum_address(address), digest, signature)


def record_terms(db: Session, vm: VoiceModel, body: TermsIn, now: datetime) -> ModelTerms:
    version = (current_terms(vm).version + 1) if vm.terms else 1  # type: ignore[union-attr]
    row = ModelTerms(
        voice_model_id=vm.id,
        version=version,
        payout_address=to_checksum_address(body.payout_address),
        creator_bps=body.creator_bps,
        fan_bps=body.fan_bps,
        platform_bps=body.platform_bps,
        price_per_play=int(body.price_per_play),
        approval_required=body.approval_required,
        metadata_uri=body.metadata_uri or None,
        nonce=body.nonce,
        deadline=datetime.fromtimestamp(body.deadline, now.tzinfo),
        signature=body.signature,
        payout_signature=body.payout_signature,
        status="pending",
        created_at=now,
    )
    db.add(row)
    vm.terms.append(row)
    if vm.status == "ready":
        vm.status = ACTIVE_STATUS
    return row


def accept_terms(
    db: Session, vm: VoiceModel, fan: Account, version: int, now: datetime
) -> TermsAcceptance:
    terms = current_terms(vm)
    if vm.status != ACTIVE_STATUS or terms is None:
        raise Conflict("This voice is not open for new tracks.", code="voice_not_active")
    if version != terms.version:
        raise Conflict(
            "These are not the voice's current terms; reload and read them again.",
            code="terms_outdated",
            detail={"current_version": terms.version},
        )
    existing = db.scalars(
        select(TermsAcceptance).where(
            TermsAcceptance.account_id == fan.id, TermsAcceptance.model_terms_id == terms.id
        )
    ).one_or_none()
    if existing is not None:
        return existing
    row = TermsAcceptance(account_id=fan.id, model_terms_id=terms.id, accepted_at=now)
    db.add(row)
    return row


def licensing_gate(db: Session, vm: VoiceModel | None, fan: Account) -> VoiceModel:
    """A conversion needs an active voice whose current terms this fan has accepted."""
    if vm is None or vm.status not in (ACTIVE_STATUS, "retired"):
        raise NotFound("No such voice.", code="voice_not_found")
    if vm.status == "retired":
        raise Conflict(
            "The creator has retired this voice; it takes no new conversions.",
            code="voice_retired",
        )
    terms = current_terms(vm)
    assert terms is not None
    accepted = db.scalar(
        select(TermsAcceptance.id).where(
            TermsAcceptance.account_id == fan.id, TermsAcceptance.model_terms_id == terms.id
        )
    )
    if accepted is None:
        raise Forbidden(
            "Accept the voice's current terms before converting with it.",
            code="terms_not_accepted",
            detail={"terms_version": terms.version},
        )
    return vm


def retire(vm: VoiceModel, now: datetime) -> None:
    if vm.status == "retired":
        return
    vm.status = "retired"
    vm.retired_at = now
