"""Voice catalogue, creator-signed terms, fans' acceptance, retirement."""

from __future__ import annotations

import logging
import uuid

from fastapi import APIRouter
from sqlalchemy import select
from web3.exceptions import Web3Exception

from contracts.errors import ContractError
from studio.chain_relay import NonceAlreadyUsed, registry_nonce, relay_terms, relayer_for
from studio.db.models import VoiceModel
from studio.deps import Creator, DbDep, Fan, OptionalAccount, ServicesDep
from studio.errors import Conflict
from studio.schemas import (
    AcceptanceOut,
    AcceptTermsIn,
    RegistryNonceOut,
    TermsIn,
    TermsOut,
    VoiceOut,
)
from studio.voices import (
    accept_terms,
    catalogue,
    owned_voice,
    record_terms,
    retire,
    terms_out,
    verify_terms_signature,
    visible_voice,
    voice_out,
)

router = APIRouter(prefix="/v1/voices", tags=["voices"])
log = logging.getLogger("studio.voices")


@router.get("", response_model=list[VoiceOut])
def list_voices(db: DbDep) -> list[VoiceOut]:
    """The public catalogue: voices open for new tracks, with their current terms."""
    return [voice_out(db, vm) for vm in catalogue(db)]


@router.get("/mine", response_model=list[VoiceOut])
def my_voices(creator: Creator, db: DbDep) -> list[VoiceOut]:
    rows = db.scalars(
        select(VoiceModel)
        .where(VoiceModel.creator_id == creator.id)
        .order_by(VoiceModel.created_at.desc())
    )
    return [voice_out(db, vm) for vm in rows]


@router.get("/{voice_id}", response_model=VoiceOut)
def get_voice(voice_id: uuid.UUID, db: DbDep, viewer: OptionalAccount) -> VoiceOut:
    return voice_out(db, visible_voice(db, voice_id, viewer))


@router.post("/{voice_id}/terms", response_model=TermsOut, status_code=201)
def set_terms(
    voice_id: uuid.UUID, body: TermsIn, creator: Creator, db: DbDep, services: ServicesDep
) -> TermsOut:
    """Record a new terms version, signed by the creator (EIP-712 ``ModelTerms`` for the
    VoiceRegistry of the configured chain). It applies from the next settlement epoch."""
    vm = owned_voice(db, voice_id, creator)
    now = services.clock()
    verify_terms_signature(body, vm, creator, services.deployment, services.chain, now)
    row = record_terms(db, vm, body, now)
    db.commit()  # recorded before anything is sent: a crash leaves it pending, retried later
    relayer = relayer_for(services)
    if relayer is not None:
        try:
            relay_terms(relayer, row, vm, creator)
        except (ContractError, NonceAlreadyUsed) as exc:
            # The registry refused what we verified (e.g. a nonce already used): undo.
            db.rollback()
            db.delete(row)
            if not vm.terms or vm.terms == [row]:
                vm.status = "ready"
            db.commit()
            raise Conflict(
                f"The registry refused these terms: {type(exc).__name__}.",
                code="registry_refused",
                detail={"reason": type(exc).__name__},
            ) from exc
        except (OSError, Web3Exception):
            log.warning("chain unreachable; terms stay pending", extra={"voice": str(vm.id)})
            db.rollback()
        else:
            db.commit()
    return terms_out(row)


@router.get("/registry/nonce", response_model=RegistryNonceOut)
def next_nonce(creator: Creator, services: ServicesDep) -> RegistryNonceOut:
    """The nonce the signed-in creator's next terms signature must use (read from the chain)."""
    return RegistryNonceOut(nonce=str(registry_nonce(services, creator.address)))


@router.post("/{voice_id}/accept", response_model=AcceptanceOut)
def accept(
    voice_id: uuid.UUID, body: AcceptTermsIn, fan: Fan, db: DbDep, services: ServicesDep
) -> AcceptanceOut:
    """Accept the voice's current terms (required before converting with it)."""
    vm = visible_voice(db, voice_id, fan)
    row = accept_terms(db, vm, fan, body.terms_version, services.clock())
    db.commit()
    return AcceptanceOut(
        voice_model_id=vm.id, terms_version=body.terms_version, accepted_at=row.accepted_at
    )


@router.post("/{voice_id}/retire", response_model=VoiceOut)
def retire_voice(
    voice_id: uuid.UUID, creator: Creator, db: DbDep, services: ServicesDep
) -> VoiceOut:
    """No new conversions or tracks from now on; existing tracks keep earning."""
    vm = owned_voice(db, voice_id, creator)
    retire(vm, services.clock())
    db.commit()
    return voice_out(db, vm)
