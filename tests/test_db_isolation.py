"""The rollback fixture really isolates on both engines (the pysqlite BEGIN trap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Customer


def _count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.scalar(select(func.count()).select_from(Customer)) or 0


def test_committed_rows_vanish_after_rollback(engine: Engine) -> None:
    before = _count(engine)
    conn = engine.connect()
    outer = conn.begin()
    factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint")
    with factory() as s:
        s.add(Customer(customer_key="cus_isolation", created_at=datetime.now(UTC)))  # noqa: TID251
        s.commit()
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == before + 1
    outer.rollback()
    conn.close()
    assert _count(engine) == before


def test_aware_datetimes_round_trip_as_utc(db: Session) -> None:
    kst = timezone(timedelta(hours=9))
    at = datetime(2025, 4, 30, 9, 0, tzinfo=kst)
    db.add(Customer(customer_key="cus_tz", created_at=at))
    db.commit()
    db.expire_all()
    got = db.scalars(select(Customer).where(Customer.customer_key == "cus_tz")).one()
    assert got.created_at == datetime(2025, 4, 30, 0, 0, tzinfo=UTC)
    assert got.created_at.tzinfo is not None
    assert db.scalar(select(func.count()).where(Customer.created_at <= at)) == 1


def test_naive_datetimes_are_refused(db: Session) -> None:
    db.add(Customer(customer_key="cus_naive", created_at=datetime(2025, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        db.flush()
