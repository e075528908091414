"""The migrations are the schema of record: up, down and up again on both engines, and the
result matches the models exactly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, inspect, select

from studio.db.engine import make_engine, make_session_factory
from studio.db.migrate import downgrade, upgrade
from studio.db.models import Base, Epoch
from studio.db.types import TOKEN_AMOUNT_MAX, TOKEN_AMOUNT_MIN, utcnow


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: Callable[[], str]
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    return postgres_database()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_up_down_up_and_models_match(fresh_url: str) -> None:
    upgrade(fresh_url)
    expected = set(Base.metadata.tables)
    assert expected <= _tables(fresh_url)

    engine = make_engine(fresh_url)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert diff == [], f"models and migrations disagree: {diff}"

    downgrade(fresh_url, "base")
    assert _tables(fresh_url) - {"alembic_version"} == set()
    upgrade(fresh_url)
    assert expected <= _tables(fresh_url)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def migrated_url(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_database: Callable[[], str],
) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('money') / 'm.db'}"
    else:
        url = postgres_database()
    upgrade(url)
    return url


@settings(max_examples=40, deadline=None)
@given(amount=st.integers(min_value=TOKEN_AMOUNT_MIN, max_value=TOKEN_AMOUNT_MAX))
def test_money_columns_hold_integers_exactly(migrated_url: str, amount: int) -> None:
    engine = make_engine(migrated_url)
    factory = make_session_factory(engine)
    try:
        with factory() as db:
            number = abs(amount) % 1_000_000_000
            db.merge(
                Epoch(
                    number=number,
                    starts_at=utcnow(),
                    ends_at=utcnow(),
                    claimed_total=amount,
                )
            )
            db.commit()
        with factory() as db:
            got = db.scalar(select(Epoch.claimed_total).where(Epoch.number == number))
        assert got == amount and type(got) is int
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad", [1.5, 2**63, True, "10"])
def test_money_columns_refuse_non_integers_and_overflow(migrated_url: str, bad: object) -> None:
    engine = make_engine(migrated_url)
    try:
        with make_session_factory(engine)() as db:
            db.add(Epoch(number=1, starts_at=utcnow(), ends_at=utcnow(), claimed_total=bad))
            with pytest.raises(Exception, match=r"token amount|int base units"):
                db.commit()
    finally:
        engine.dispose()
