"""Due work from the database: dunning retries, reconciliations, and the sweeper."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models import Charge, ChargeStatus, order_id_for
from scheduler import ChargeScheduler, SweepResult, sweep
from tests.helpers.scheduling import kst, make_subscription
from worker.publish import RecordingPublisher

NOW = kst(2025, 5, 10, 12)
FAR = 10**8


def make_charge(factory: sessionmaker[Session], status: ChargeStatus, **kw: Any) -> int:
    sub_id = make_subscription(factory, next_charge_at=None, start_at=kst(2025, 5, 1))
    cycle_at = kw.pop("cycle_at", kst(2025, 5, 1, 9))
    with factory() as session:
        charge = Charge(
            subscription_id=sub_id,
            cycle_at=cycle_at,
            order_id=order_id_for(sub_id, cycle_at),
            order_name="Plan",
            amount=9900,
            status=status.value,
            created_at=cycle_at,
            updated_at=cycle_at,
            **kw,
        )
        session.add(charge)
        session.commit()
        return charge.id


def get(factory: sessionmaker[Session], charge_id: int) -> Charge:
    with factory() as session:
        charge = session.get(Charge, charge_id)
        assert charge is not None
        return charge


def scheduler(
    factory: sessionmaker[Session], publisher: Any = None, **kw: float
) -> ChargeScheduler:
    kw.setdefault("max_tick_seconds", FAR)
    return ChargeScheduler(factory, publisher or RecordingPublisher(), **kw)  # type: ignore[arg-type]


def recorded(sched: ChargeScheduler) -> RecordingPublisher:
    assert isinstance(sched.publisher, RecordingPublisher)
    return sched.publisher


def test_due_retry_is_published_once_and_becomes_pending(
    session_factory: sessionmaker[Session],
) -> None:
    due = make_charge(
        session_factory,
        ChargeStatus.RETRY_SCHEDULED,
        next_attempt_at=NOW - timedelta(seconds=1),
        decline_count=1,
    )
    later = make_charge(
        session_factory, ChargeStatus.RETRY_SCHEDULED, next_attempt_at=NOW + timedelta(hours=1)
    )
    sched = scheduler(session_factory, sweep_interval_seconds=FAR)

    assert sched.tick(NOW) == 3600.0  # the next retry is the next due thing
    assert recorded(sched).charges == [due]
    row = get(session_factory, due)
    assert (row.status, row.next_attempt_at, row.enqueued_at) == (ChargeStatus.PENDING, None, NOW)
    assert row.decline_count == 1
    assert get(session_factory, later).status == ChargeStatus.RETRY_SCHEDULED

    sched.tick(NOW + timedelta(seconds=5))
    assert recorded(sched).charges == [due]


def test_card_wait_deadline_is_claimed_like_a_retry(
    session_factory: sessionmaker[Session],
) -> None:
    waiting = make_charge(
        session_factory,
        ChargeStatus.RETRY_SCHEDULED,
        next_attempt_at=NOW - timedelta(minutes=1),
        waiting_for_card=True,
    )
    sched = scheduler(session_factory)
    sched.tick(NOW)
    assert recorded(sched).charges == [waiting]
    assert get(session_factory, waiting).status == ChargeStatus.PENDING


def test_due_reconcile_is_published_once_within_its_lease(
    session_factory: sessionmaker[Session],
) -> None:
    unknown = make_charge(
        session_factory, ChargeStatus.UNKNOWN, next_attempt_at=NOW - timedelta(seconds=1)
    )
    not_yet = make_charge(
        session_factory, ChargeStatus.UNKNOWN, next_attempt_at=NOW + timedelta(minutes=1)
    )
    sched = scheduler(session_factory, sweep_interval_seconds=FAR)

    assert sched.tick(NOW) == 60.0
    assert recorded(sched).reconciles == [unknown]
    assert recorded(sched).charges == []
    row = get(session_factory, unknown)
    assert row.status == ChargeStatus.UNKNOWN
    assert row.next_attempt_at == NOW + timedelta(seconds=300)

    sched.tick(NOW + timedelta(seconds=10))  # the reconcile task has not run yet
    assert recorded(sched).reconciles == [unknown]
    sched.tick(NOW + timedelta(seconds=61))
    assert recorded(sched).reconciles == [unknown, not_yet]
    sched.tick(NOW + timedelta(seconds=301))  # lease over and still UNKNOWN: again
    assert recorded(sched).reconciles == [unknown, not_yet, unknown]


def test_sweeper_republishes_lost_and_abandoned_charges(
    session_factory: sessionmaker[Session],
) -> None:
    old = make_charge(session_factory, ChargeStatus.PENDING, enqueued_at=NOW - timedelta(hours=1))
    never = make_charge(session_factory, ChargeStatus.PENDING, enqueued_at=None)
    fresh = make_charge(
        session_factory, ChargeStatus.PENDING, enqueued_at=NOW - timedelta(seconds=10)
    )
    dead = make_charge(
        session_factory,
        ChargeStatus.PROCESSING,
        enqueued_at=NOW - timedelta(hours=1),
        lease_expires_at=NOW - timedelta(seconds=1),
    )
    alive = make_charge(
        session_factory,
        ChargeStatus.PROCESSING,
        enqueued_at=NOW - timedelta(hours=1),
        lease_expires_at=NOW + timedelta(hours=1),
    )
    sched = scheduler(session_factory, sweep_interval_seconds=60, stale_enqueue_seconds=300)

    assert sched.tick(NOW) == 60.0  # the next sweep is the next due thing
    assert sorted(recorded(sched).charges) == sorted([old, never, dead])
    assert sched.last_pass.swept == 3
    assert get(session_factory, old).enqueued_at == NOW
    # The worker's lease stays expired, so the re-delivered task can take the row over.
    dead_row = get(session_factory, dead)
    assert (dead_row.status, dead_row.lease_expires_at) == (
        ChargeStatus.PROCESSING,
        NOW - timedelta(seconds=1),
    )

    sched.tick(NOW + timedelta(seconds=30))  # not a sweep pass yet
    sched.tick(NOW + timedelta(seconds=61))  # a sweep pass: everything was enqueued just now
    assert sorted(recorded(sched).charges) == sorted([old, never, dead])
    assert get(session_factory, fresh).enqueued_at == NOW - timedelta(seconds=10)
    assert get(session_factory, alive).enqueued_at == NOW - timedelta(hours=1)

    sched.tick(NOW + timedelta(seconds=400))  # still not picked up by any worker: again
    assert sorted(recorded(sched).charges) == sorted([old, never, dead, fresh, old, never, dead])


def test_sweep_function_for_the_sweep_task(session_factory: sessionmaker[Session]) -> None:
    make_charge(session_factory, ChargeStatus.PENDING, enqueued_at=NOW - timedelta(hours=1))
    make_charge(
        session_factory,
        ChargeStatus.PROCESSING,
        enqueued_at=None,
        lease_expires_at=NOW - timedelta(seconds=1),
    )
    publisher = RecordingPublisher()
    result = sweep(session_factory, publisher, NOW, stale_enqueue_seconds=300)
    assert result == SweepResult(stale_pending=1, expired_leases=1)
    assert result.total == len(publisher.charges) == 2
    assert sweep(session_factory, publisher, NOW, stale_enqueue_seconds=300).total == 0


class BrokenPublisher(RecordingPublisher):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def charge(self, charge_ids: Sequence[int]) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable\nsecond line")
        super().charge(charge_ids)


def test_publish_failure_after_commit_is_recovered_by_the_sweeper(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 5, 1))
    publisher = BrokenPublisher()
    sched = scheduler(session_factory, publisher, stale_enqueue_seconds=300)

    sched.tick(kst(2025, 5, 1, 9))  # must not raise: the charge row is committed
    assert "beat: publish charge failed count=1 error=ConnectionError" in caplog.text
    assert "second line" not in caplog.text
    with session_factory() as session:
        [charge] = session.query(Charge).filter_by(subscription_id=sub_id).all()
    assert publisher.charges == []

    publisher.fail = False
    sched.tick(kst(2025, 5, 1, 9, 6))  # five minutes later the sweeper sees it stale
    assert publisher.charges == [charge.id]
