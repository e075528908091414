"""Relaying creator-signed terms to the VoiceRegistry: the service pays the gas, the creator's
signature (and the payout address's, when it differs) is what authorizes.

Crash safety: terms are recorded as ``pending`` before anything is sent. Relaying is
idempotent — it first reads the registry, so a terms version already on-chain (the process
died after sending) is adopted instead of being sent twice — and ``relay_pending`` retries
every pending version at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from web3 import Web3
from web3.contract import Contract

from contracts.artifacts import bind
from contracts.deploy import Deployment
from contracts.eip712 import ModelTerms as SignedTerms
from contracts.transact import transact
from studio.db.models import Account as AccountRow
from studio.db.models import ModelTerms, VoiceModel
from studio.services import Services
from studio.settlement.chain import answers_503

log = logging.getLogger("studio.chain")


@dataclass(frozen=True)
class Relayer:
    w3: Web3
    deployment: Deployment
    account: LocalAccount


def relayer_for(services: Services) -> Relayer | None:
    key = services.settings.relayer_key
    if services.chain is None or services.deployment is None or key is None:
        return None
    return Relayer(services.chain, services.deployment, Account.from_key(key.get_secret_value()))


def signed_terms(row: ModelTerms, vm: VoiceModel, creator: AccountRow) -> SignedTerms:
    assert vm.artifact_sha256 is not None
    return SignedTerms(
        creator=creator.address,
        payout=row.payout_address,
        artifact_hash=bytes.fromhex(vm.artifact_sha256),
        metadata_uri=row.metadata_uri or "",
        creator_bps=row.creator_bps,
        fan_bps=row.fan_bps,
        platform_bps=row.platform_bps,
        price_per_play=row.price_per_play,
        approval_required=row.approval_required,
        nonce=int(row.nonce),
        deadline=int(row.deadline.timestamp()),
    )


@answers_503  # a provider's 5xx or a timeout is the chain being unavailable, not a 500
def registry_nonce(services: Services, address: str) -> int:
    if services.chain is None or services.deployment is None:
        return 0
    registry = bind(services.chain, "VoiceRegistry", services.deployment.registry)
    return int(registry.functions.nonces(Web3.to_checksum_address(address)).call())


def relay_terms(relayer: Relayer, row: ModelTerms, vm: VoiceModel, creator: AccountRow) -> None:
    """Put ``row`` on-chain (registerModel for a new model, updateTerms after that) and record
    the model id, effective epoch and transaction. Raises ContractError on a revert."""
    registry = bind(relayer.w3, "VoiceRegistry", relayer.deployment.registry)
    terms = signed_terms(row, vm, creator)
    model_id = bytes(registry.functions.modelIdOf(terms.creator, terms.artifact_hash).call())
    on_chain = registry.functions.getModel(model_id).call()
    registered = on_chain[0] != "0x" + "00" * 20
    creator_sig = bytes.fromhex((row.signature or "0x").removeprefix("0x"))
    payout_sig = bytes.fromhex((row.payout_signature or "0x").removeprefix("0x"))
    nonce_now = int(registry.functions.nonces(terms.creator).call())
    if nonce_now > terms.nonce:
        # Either we sent exactly these terms before dying, or the nonce went to other terms.
        if not (registered and _latest_matches(registry, model_id, terms)):
            raise NonceAlreadyUsed(terms.nonce, nonce_now)
        log.info("terms already on-chain; adopting", extra={"voice": str(vm.id)})
    else:
        fn = registry.functions.updateTerms if registered else registry.functions.registerModel
        receipt = transact(
            relayer.w3, fn(terms.as_tuple(), creator_sig, payout_sig), relayer.account
        )
        row.tx_hash = receipt["transactionHash"].to_0x_hex()
    count = int(registry.functions.termsVersionCount(model_id).call())
    latest = registry.functions.termsVersion(model_id, count - 1).call()
    row.effective_epoch = int(latest[5])  # TermsVersion.fromEpoch
    row.status = "active"
    vm.onchain_id = "0x" + model_id.hex()


class NonceAlreadyUsed(Exception):
    """The creator's signature carries a nonce the registry has already consumed."""


def _latest_matches(registry: Contract, model_id: bytes, terms: SignedTerms) -> bool:
    count = int(registry.functions.termsVersionCount(model_id).call())
    payout, c, f, p, approval, _from, price, uri = registry.functions.termsVersion(
        model_id, count - 1
    ).call()
    return (payout, c, f, p, approval, price, uri) == (
        terms.payout,
        terms.creator_bps,
        terms.fan_bps,
        terms.platform_bps,
        terms.approval_required,
        terms.price_per_play,
        terms.metadata_uri,
    )


def relay_pending(services: Services) -> int:
    """Retry every terms version still pending (start-up); returns how many went through."""
    relayer = relayer_for(services)
    if relayer is None:
        return 0
    done = 0
    with services.db() as db:
        rows = db.scalars(
            select(ModelTerms).where(ModelTerms.status == "pending").order_by(ModelTerms.created_at)
        ).all()
        for row in rows:
            vm = db.get(VoiceModel, row.voice_model_id)
            creator = db.get(AccountRow, vm.creator_id) if vm else None
            if vm is None or creator is None:
                continue
            try:
                relay_terms(relayer, row, vm, creator)
                db.commit()
                done += 1
            except Exception:
                db.rollback()
                log.exception("relaying terms failed", extra={"terms": str(row.id)})
    return done
