"""The royalties package's exceptions: one base class, subclasses that also inherit the builtin
a caller would otherwise catch."""

from __future__ import annotations


class RoyaltiesError(Exception):
    """Base of every error raised by :mod:`royalties`."""


class SplitError(RoyaltiesError, ValueError):
    """Split inputs are inconsistent (bad shares, decreasing gross, epochs out of order)."""


class PayoutError(RoyaltiesError, ValueError):
    """A payout tree cannot be built (no leaves, totals going down)."""


class ReportError(RoyaltiesError, ValueError):
    """A settlement report is malformed or not canonical."""


class UsageLogError(RoyaltiesError, ValueError):
    """A usage-log proof or index is invalid."""


class LedgerError(RoyaltiesError, ValueError):
    """A ledger transaction does not balance or names an invalid amount."""


class ChainError(RoyaltiesError, RuntimeError):
    """On-chain state contradicts what the settlement expected."""
