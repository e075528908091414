"""Settlement epochs: status, root, published report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
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
    number: Annotated[int, Path(ge=0, le=2**31 - 1)],  # the epochs.number column's range
    db: DbDep,
    services: ServicesDep,
    report: bool = Query(default=True),
) -> EpochOut:
    """An epoch's status, root, totals and (by default) its published report: the inputs
    anyone can recompute it from (``timbre verify --epoch N``)."""
    return epoch_out(services, get_epoch(db, number), with_report=report)
