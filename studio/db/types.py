"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# Token amounts are integers in the stablecoin's base units (6 decimals). A signed 64-bit
# column holds up to 9.2e18 base units (≈ 9.2 trillion dollars): exact, summable in SQL on
# both engines. Anything outside that range is refused rather than rounded.
TOKEN_AMOUNT_MAX = 2**63 - 1
TOKEN_AMOUNT_MIN = -(2**63)


class TokenAmount(TypeDecorator[int]):
    """An exact integer amount of token base units (never a float, never a Decimal)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"token amounts are int base units, got {type(value).__name__}")
        if not TOKEN_AMOUNT_MIN <= value <= TOKEN_AMOUNT_MAX:
            raise OverflowError(f"token amount {value} outside the 64-bit column range")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every engine (SQLite stores naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("datetimes must be timezone-aware")
        utc: datetime = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
