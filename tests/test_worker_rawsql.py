"""``RawStatement``: a Core statement run on the driver cursor keeps SQLAlchemy's semantics.

The worker's three per-charge statements run this way on PostgreSQL (worker/rawsql.py). These
tests pin what that must keep: the column types' bind and result processing (``UTCDateTime``
to and from UTC, ``JSON``), values fixed inside the statement, RETURNING rows, rowcount, and
the caller's transaction (a rollback undoes it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    update,
)

from models.types import UTCDateTime
from worker.rawsql import RawStatement

_meta = MetaData()
_t = Table(
    "rawsql_probe", _meta,
    Column("id", Integer, primary_key=True),
    Column("status", String(16)),
    Column("at", UTCDateTime()),
    Column("doc", JSON),
)  # fmt: skip

_INSERT = RawStatement(
    insert(_t)
    .values(status="NEW", at=bindparam("at"), doc=bindparam("doc"))
    .returning(_t.c.id, _t.c.at)
)
_READ = RawStatement(select(_t.c.id, _t.c.at, _t.c.doc).where(_t.c.id == bindparam("id")))
#: "status = 'NEW'" is a value fixed in the statement, sent as a parameter.
_CLAIM = RawStatement(
    update(_t).where(_t.c.id == bindparam("b_id"), _t.c.status == "NEW").values(status="TAKEN")
)
_KST = timezone(timedelta(hours=9))


@pytest.fixture
def pg(pg_engine: Engine) -> Engine:
    _meta.drop_all(pg_engine)
    _meta.create_all(pg_engine)
    yield pg_engine  # type: ignore[misc]
    _meta.drop_all(pg_engine)


@pytest.mark.postgres
def test_types_returning_fixed_values_and_rowcount(pg: Engine) -> None:
    at = datetime(2026, 12, 4, 9, 30, tzinfo=_KST)
    with pg.begin() as conn:
        made = _INSERT.execute(conn, {"at": at, "doc": {"amount": 1000, "name": "플랜"}}).first()
        assert made is not None and made.at == at and made.at.tzinfo == UTC
        row = _READ.execute(conn, {"id": made.id}).first()
        assert row is not None
        assert row.at == at and row.at.tzinfo == UTC and row.doc == {"amount": 1000, "name": "플랜"}
        assert _CLAIM.execute(conn, {"b_id": made.id}).rowcount == 1
        assert _CLAIM.execute(conn, {"b_id": made.id}).rowcount == 0  # no longer NEW
        assert _READ.execute(conn, {"id": made.id + 1000}).first() is None
    with pg.connect() as conn:  # what SQLAlchemy itself reads back
        stored = conn.execute(select(_t.c.status, _t.c.at).where(_t.c.id == made.id)).one()
    assert stored.status == "TAKEN" and stored.at == at


@pytest.mark.postgres
def test_runs_in_the_callers_transaction(pg: Engine) -> None:
    with pg.connect() as conn:
        with conn.begin() as tx:
            values = {"at": datetime(2026, 1, 1, tzinfo=UTC), "doc": None}
            made = _INSERT.execute(conn, values).first()
            assert made is not None
            tx.rollback()
        assert conn.execute(select(_t.c.id)).all() == []


def test_refuses_a_positional_paramstyle(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn, pytest.raises(ValueError, match="named parameters"):
        _READ.execute(conn, {"id": 1})
