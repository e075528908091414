"""Settlement epochs: status, root, published report, and its verification."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from royalties.verify import Difference, verify_epoch
from studio.db.models import Epoch
from studio.deps import DbDep, ServicesDep
from studio.services import Services
from studio.settlement.chain import answers_503, require_chain
from studio.settlement.schemas import EpochOut
from studio.settlement.views import epoch_out, get_epoch

router = APIRouter(prefix="/v1/epochs", tags=["epochs"])

EpochNumber = Annotated[int, Path(ge=0, le=2**31 - 1)]  # the epochs.number column's range

# The checks of ``timbre verify`` (royalties.verify.verify_epoch), in the order it runs them; it
# stops at the first difference, so the checks after a failed one were not reached.
CHECKS: tuple[tuple[str, str], ...] = (
    ("proposed", "A Merkle root was proposed on-chain for this epoch"),
    ("stored", "The report named by the on-chain report hash is in storage"),
    ("hash", "The report's SHA-256 equals the report hash on-chain"),
    ("format", "The report is well-formed canonical JSON"),
    ("figures", "Recomputing the report's inputs gives its figures and Merkle tree"),
    ("succession", "The report continues the previous epoch's report, if there is one"),
    ("terms", "Every track's terms match the voice registry on-chain"),
    ("root", "The on-chain root, report hash and epoch total match the recomputation"),
)


def _failed_check(diff: Difference) -> str:
    """Which check a difference belongs to (by the path ``verify_report`` names)."""
    where = diff.where
    if where == "onchain.RootProposed":
        return (
            "proposed" if diff.reported == "none" and diff.expected.startswith("epoch") else "root"
        )
    if where.startswith("onchain."):
        return "root"
    if where.endswith(".terms"):
        return "terms"
    if where in ("storage", "sha256", "format"):
        return {"storage": "stored", "sha256": "hash", "format": "format"}[where]
    if where.startswith(("figures", "inputs.", "payouts")):
        return "figures"
    return "succession"  # previous, epoch, chain, segment …, channel …, leaf …


class VerifyCheckOut(BaseModel):
    name: str
    description: str
    status: Literal["passed", "failed", "not_reached"]


class VerifyDifferenceOut(BaseModel):
    where: str = Field(description="JSON path in the report, or the named check")
    expected: str = Field(description="The recomputed (or on-chain) value")
    reported: str = Field(description="The value in the published report")


class EpochVerifyOut(BaseModel):
    """The outcome of ``timbre verify --epoch N``, run by the service against the chain and
    the object store."""

    epoch: int
    ok: bool
    root: str | None = Field(description="The recomputed Merkle root")
    report_sha256: str | None
    checks: list[VerifyCheckOut]
    difference: VerifyDifferenceOut | None


@answers_503
def _verify(services: Services, number: int) -> EpochVerifyOut:
    chain = require_chain(services)
    result = verify_epoch(
        chain.contracts, services.store, number, from_block=chain.deployment.block_number
    )
    failed = _failed_check(result.difference) if result.difference else None
    checks, reached = [], True
    for name, description in CHECKS:
        status: Literal["passed", "failed", "not_reached"] = "passed"
        if name == failed:
            status, reached = "failed", False
        elif not reached:
            status = "not_reached"
        checks.append(VerifyCheckOut(name=name, description=description, status=status))
    diff = result.difference
    return EpochVerifyOut(
        epoch=number,
        ok=result.ok,
        root="0x" + result.root.hex() if result.root else None,
        report_sha256=result.report_sha256.hex() or None,
        checks=checks,
        difference=VerifyDifferenceOut(
            where=diff.where, expected=diff.expected, reported=diff.reported
        )
        if diff
        else None,
    )


@router.get("", response_model=list[EpochOut])
def list_epochs(db: DbDep, services: ServicesDep) -> list[EpochOut]:
    rows = db.scalars(select(Epoch).order_by(Epoch.number.desc()).limit(100))
    return [epoch_out(services, r, with_report=False) for r in rows]


@router.get("/{number}", response_model=EpochOut)
def one_epoch(
    number: EpochNumber,
    db: DbDep,
    services: ServicesDep,
    report: bool = Query(default=True),
) -> EpochOut:
    """An epoch's status, root, totals and (by default) its published report: the inputs
    anyone can recompute it from (``timbre verify --epoch N``)."""
    return epoch_out(services, get_epoch(db, number), with_report=report)


@router.post("/{number}/verify", response_model=EpochVerifyOut)
def verify(number: EpochNumber, db: DbDep, services: ServicesDep) -> EpochVerifyOut:
    """Run ``timbre verify --epoch N`` here: fetch the report the chain's RootProposed names,
    recompute it, and check it against the previous report and the chain (the studio's own
    records are not trusted; they only say which epochs exist). ``ok`` false with the failed
    check and the first difference when anything departs. Anyone may ask."""
    get_epoch(db, number)
    return _verify(services, number)
