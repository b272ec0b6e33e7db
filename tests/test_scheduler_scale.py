"""Cost grows with the due rows, not the total; several beats at once create each charge once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Charge, ChargeStatus, Subscription
from scheduler import ChargeScheduler
from tests.helpers.scheduling import bulk_subscriptions, kst
from worker.publish import RecordingPublisher

NOW = kst(2025, 5, 10, 12)


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement sent to the database while the test runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def count(factory: sessionmaker[Session], model: Any) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_idle_pass_over_many_subscriptions_is_a_few_indexed_statements(
    session_factory: sessionmaker[Session], statements: list[str]
) -> None:
    bulk_subscriptions(session_factory, 2000, start_at=kst(2030, 1, 1))
    sched = ChargeScheduler(session_factory, RecordingPublisher(), max_tick_seconds=5)
    statements.clear()

    assert sched.tick(NOW) == 5.0

    sql = [s for s in statements if not s.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK"))]
    assert len(sql) <= 8, sql
    touching = [s for s in sql if "subscriptions" in s]
    assert len(touching) == 2, touching  # the claim (LIMIT) and min(next_charge_at)
    assert not any(s.startswith(("UPDATE", "INSERT")) for s in sql)
    claim = next(s for s in touching if "WHERE subscriptions.next_charge_at <=" in s)
    assert "LIMIT" in claim and "ORDER BY subscriptions.next_charge_at" in claim
    assert sched.last_pass.created == 0


def test_due_rows_are_processed_in_batches(session_factory: sessionmaker[Session]) -> None:
    bulk_subscriptions(session_factory, 250, start_at=kst(2025, 5, 10))  # due 09:00 KST
    bulk_subscriptions(session_factory, 300, start_at=kst(2030, 1, 1))  # not due
    publisher = RecordingPublisher()
    sched = ChargeScheduler(session_factory, publisher, batch_size=100, max_tick_seconds=5)

    assert sched.tick(NOW) == 0.0  # a full batch: more is due, tick again at once
    assert count(session_factory, Charge) == 100
    assert sched.tick(NOW) == 0.0
    assert count(session_factory, Charge) == 200
    assert sched.tick(NOW) == 5.0
    assert count(session_factory, Charge) == 250
    assert sched.tick(NOW) == 5.0
    assert len(publisher.charges) == len(set(publisher.charges)) == 250


def test_several_schedulers_at_once_create_each_charge_once(
    committing_factory: sessionmaker[Session],
) -> None:
    """Three beats tick in threads at the same ``now`` over 200 subscriptions, each due for
    three cycles (catch-up): one PENDING + two SKIPPED each, every id published once."""
    bulk_subscriptions(committing_factory, 200, start_at=kst(2025, 5, 8))  # 8th, 9th, 10th
    publishers = [RecordingPublisher() for _ in range(3)]
    barrier = threading.Barrier(len(publishers))
    errors: list[BaseException] = []

    def beat(publisher: RecordingPublisher) -> None:
        sched = ChargeScheduler(committing_factory, publisher, batch_size=30)
        try:
            barrier.wait(timeout=30)
            for _ in range(100):
                if sched.tick(NOW) > 0:
                    return
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=beat, args=(p,)) for p in publishers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors

    with committing_factory() as session:
        rows = session.execute(select(Charge.id, Charge.subscription_id, Charge.status)).all()
        next_times = set(session.scalars(select(Subscription.next_charge_at)))
    pending = [r for r in rows if r.status == ChargeStatus.PENDING]
    assert len(pending) == 200
    assert len({r.subscription_id for r in pending}) == 200
    assert Counter(r.status for r in rows)[ChargeStatus.SKIPPED] == 400
    assert next_times == {kst(2025, 5, 11, 9)}
    published = Counter(i for p in publishers for i in p.charges)
    assert set(published) == {r.id for r in pending}
    assert set(published.values()) == {1}


def test_tick_after_a_racing_pass_adds_nothing(committing_factory: sessionmaker[Session]) -> None:
    bulk_subscriptions(committing_factory, 20, start_at=kst(2025, 5, 10))
    first, second = RecordingPublisher(), RecordingPublisher()
    ChargeScheduler(committing_factory, first).tick(NOW)
    ChargeScheduler(committing_factory, second).tick(NOW + timedelta(seconds=1))
    assert len(first.charges) == 20 and second.charges == []
    assert count(committing_factory, Charge) == 20
