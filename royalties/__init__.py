"""Timbre royalties: metering (vouchers, play log), split maths, payout roots, epoch reports,
verification, ledger postings and the resumable on-chain settlement steps.

Pure modules (plain data in, plain data out; the studio persists what they return):
:mod:`~royalties.splits`, :mod:`~royalties.payouts`, :mod:`~royalties.vouchers`,
:mod:`~royalties.usage_log`, :mod:`~royalties.gross`, :mod:`~royalties.report`,
:mod:`~royalties.ledger`. Chain and storage: :mod:`~royalties.chain`,
:mod:`~royalties.settle`, :mod:`~royalties.verify`. Money is ``int`` token base units throughout.
"""

from royalties.errors import (
    ChainError,
    LedgerError,
    PayoutError,
    ReportError,
    RoyaltiesError,
    SplitError,
    UsageLogError,
)

__all__ = [
    "ChainError",
    "LedgerError",
    "PayoutError",
    "ReportError",
    "RoyaltiesError",
    "SplitError",
    "UsageLogError",
]
