"""Settlement epochs: status, root, published report."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy import select

from studio.db.models import Epoch
from studio.deps import DbDep, ServicesDep
from studio.settlement.schemas import EpochOut
from studio.settlement.views import epoch_out, get_epoch

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])


@router.get("", response_model=list[EpochOut])
def list_epochs(db: DbDep, services: ServicesDep) -> list[EpochOut]:
    rows = db.scalars(select(Epoch).order_by(Epoch.number.desc()).limit(100))
    return [epoch_out(services, r, with_report=False) for r in rows]


@router.get("/{number}", response_model=EpochOut)
def one_epoch(
    number: int, db: DbDep, services: ServicesDep, report: bool = Query(default=True)
) -> EpochOut:
    """An epoch's status, root, totals and (by default) its published report: the inputs
    anyone can recompute it from (``timbre verify --epoch N``)."""
    return epoch_out(services, get_epoch(db, number), with_report=report)
