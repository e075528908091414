"""The platform's side of metering: keep the play log, sign the next cumulative voucher.

A reference implementation of what a streaming platform runs (the demo, tests and benchmarks
use it): each play appends a :class:`~royalties.usage_log.UsageRecord` and signs
``{channelId, cumulativeAmount: previous + price, usageRoot: log root, seq: previous + 1}``.
Amounts in token base units; times in unix seconds.
"""

from __future__ import annotations

from contracts.eip712 import Eip712Domain, Voucher
from royalties.fastsig import Signer, voucher_digest
from royalties.usage_log import UsageFrontier, UsageRecord


class PlatformMeter:
    """One channel's voucher signer (an EOA key) and play log."""

    def __init__(self, channel_id: int, private_key: bytes, domain: Eip712Domain) -> None:
        self.channel_id = channel_id
        self.domain = domain
        self._signer = Signer(private_key)
        self.seq = 0
        self.cumulative = 0
        self.usage = UsageFrontier()
        self.records: list[UsageRecord] = []
        self._undo: tuple[int, int, UsageFrontier] | None = None

    def pay(self, track_id: bytes, price: int, timestamp: int) -> tuple[Voucher, bytes]:
        """Logs a play and returns the voucher paying for it, with its 65-byte signature."""
        record = UsageRecord(self.seq + 1, track_id, price, timestamp)
        usage = self.usage.append(record)
        voucher = Voucher(self.channel_id, self.cumulative + price, usage.root(), record.seq)
        signature = self._signer.sign(voucher_digest(self.domain, voucher))
        self._undo = (self.seq, self.cumulative, self.usage)
        self.seq, self.cumulative, self.usage = record.seq, voucher.cumulative_amount, usage
        self.records.append(record)
        return voucher, signature

    def undo_last(self) -> None:
        """Forgets the last play (the studio refused its voucher), so the next one reuses its
        seq and amount."""
        if self._undo is None:
            raise RuntimeError("nothing to undo")
        self.seq, self.cumulative, self.usage = self._undo
        self.records.pop()
        self._undo = None
