"""Payees' cumulative payouts with proofs, and earnings per epoch and per track."""

from __future__ import annotations

from fastapi import APIRouter, Query
from pydantic import BaseModel

from studio.deps import Creator, CurrentAccount, DbDep, ServicesDep
from studio.settlement.chain import require_chain, settlement_chain
from studio.settlement.schemas import (
    EpochEarningOut,
    PayoutOut,
    TrackEarningOut,
    VoiceEarningOut,
)
from studio.settlement.views import (
    claim_for,
    epoch_earnings,
    payout_for,
    track_earnings,
    voice_earnings,
)

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])


class ClaimOut(BaseModel):
    tx_hash: str


@router.get("/me", response_model=PayoutOut)
def my_payout(account: CurrentAccount, db: DbDep, services: ServicesDep) -> PayoutOut:
    """The signed-in wallet's cumulative entitlement and Merkle proof: call
    ``RoyaltyDistributor.claim(address, cumulative_amount, proof)`` to take the difference."""
    return payout_for(db, settlement_chain(services), account.address)


@router.post("/me/claim", response_model=ClaimOut)
def claim_mine(account: CurrentAccount, db: DbDep, services: ServicesDep) -> ClaimOut:
    """The service sends ``claimFor`` (pays the gas); the tokens go to the wallet."""
    return ClaimOut(tx_hash=claim_for(db, require_chain(services), account.address))


@router.get("/me/epochs", response_model=list[EpochEarningOut])
def my_epochs(account: CurrentAccount, db: DbDep) -> list[EpochEarningOut]:
    """The wallet's cumulative entitlement after each settled epoch, and what each added."""
    return epoch_earnings(db, account.address)


@router.get("/me/tracks", response_model=list[TrackEarningOut])
def my_tracks(
    account: CurrentAccount,
    db: DbDep,
    epoch: int | None = Query(default=None, ge=0, le=2**31 - 1),
) -> list[TrackEarningOut]:
    """Per-track cumulative gross and shares of the tracks the wallet made or voiced."""
    return track_earnings(db, account, epoch)


@router.get("/me/voices", response_model=list[VoiceEarningOut])
def my_voices(
    creator: Creator,
    db: DbDep,
    epoch: int | None = Query(default=None, ge=0, le=2**31 - 1),
) -> list[VoiceEarningOut]:
    """Per voice of the signed-in creator: its tracks' cumulative gross and creator share."""
    return voice_earnings(db, creator, epoch)
