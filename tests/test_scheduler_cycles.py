"""The scheduler's cycle rules, driven through ChargeScheduler.tick with a ManualClock:
daily, month end, catch-up after downtime, time zones and DST, changes between cycles."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models import ChargeStatus, Subscription, SubscriptionStatus, order_id_for
from scheduler import ChargeScheduler
from scheduler.clock import ManualClock
from scheduler.cycles import first_cycle_at_or_after
from tests.helpers.scheduling import at, charges_of, kst, make_subscription, subscription
from worker.publish import RecordingPublisher

#: Long enough that the sweeper and the cap never decide the returned wait.
FAR = 10**8


def scheduler(factory: sessionmaker[Session], **kw: float) -> ChargeScheduler:
    kw.setdefault("max_tick_seconds", FAR)
    kw.setdefault("sweep_interval_seconds", FAR)
    return ChargeScheduler(factory, RecordingPublisher(), **kw)  # type: ignore[arg-type]


def run_until(sched: ChargeScheduler, clock: ManualClock, end: datetime) -> int:
    """The beat loop, with time jumping to whatever tick() asks for."""
    ticks = 0
    while clock.now() < end:
        wait = sched.tick(clock.now())
        clock.advance(seconds=min(wait, (end - clock.now()).total_seconds() + 1))
        ticks += 1
        assert ticks < 10_000, "scheduler loop does not converge"
    return ticks


def published(sched: ChargeScheduler) -> list[int]:
    assert isinstance(sched.publisher, RecordingPublisher)
    return sched.publisher.charges


def test_daily_cycle_at_nine_kst_is_charged_once(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock(kst(2025, 4, 30, 8, 59, 30))
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 4, 30))
    sched = scheduler(session_factory, max_tick_seconds=60)

    assert sched.tick(clock.now()) == 30.0  # exact wait, no wall-clock sleep
    assert charges_of(session_factory, sub_id) == []
    clock.advance(seconds=30)
    assert sched.tick(clock.now()) == 60.0  # capped: the next cycle is a day away
    [charge] = charges_of(session_factory, sub_id)
    assert charge.cycle_at == kst(2025, 4, 30, 9)
    assert charge.status == ChargeStatus.PENDING
    assert charge.order_id == order_id_for(sub_id, kst(2025, 4, 30, 9))
    assert (charge.amount, charge.source, charge.enqueued_at) == (9900, "CYCLE", clock.now())
    assert published(sched) == [charge.id]
    assert subscription(session_factory, sub_id).next_charge_at == kst(2025, 5, 1, 9)

    clock.advance(seconds=60)
    sched.tick(clock.now())
    assert len(charges_of(session_factory, sub_id)) == 1
    assert published(sched) == [charge.id]


def test_tick_returns_exact_seconds_to_next_due_uncapped(
    session_factory: sessionmaker[Session],
) -> None:
    make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 4, 30))
    sched = scheduler(session_factory)
    assert sched.tick(kst(2025, 4, 30, 9)) == 86400.0


@pytest.mark.parametrize("cron", ["0 9 31 * *", "0 9 L * *"])
def test_month_end_is_charged_once_every_month_for_a_year(
    session_factory: sessionmaker[Session], cron: str
) -> None:
    clock = ManualClock(kst(2025, 1, 1))
    sub_id = make_subscription(session_factory, cron=cron, start_at=kst(2025, 1, 1))
    sched = scheduler(session_factory)
    run_until(sched, clock, kst(2025, 12, 31, 23))

    charges = charges_of(session_factory, sub_id)
    last_days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    assert [c.cycle_at for c in charges] == [
        kst(2025, month, day, 9) for month, day in enumerate(last_days, start=1)
    ]
    assert {c.status for c in charges} == {ChargeStatus.PENDING}
    assert sorted(published(sched)) == [c.id for c in charges]


def test_month_end_in_a_leap_year_is_feb_29(session_factory: sessionmaker[Session]) -> None:
    clock = ManualClock(kst(2028, 2, 1))
    sub_id = make_subscription(session_factory, cron="0 9 30 * *", start_at=kst(2028, 2, 1))
    run_until(scheduler(session_factory), clock, kst(2028, 3, 31))
    assert [c.cycle_at for c in charges_of(session_factory, sub_id)] == [
        kst(2028, 2, 29, 9),
        kst(2028, 3, 30, 9),
    ]


def test_catch_up_charges_latest_missed_cycle_once_and_records_skipped(
    session_factory: sessionmaker[Session],
) -> None:
    clock = ManualClock(kst(2025, 5, 1, 8))
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 5, 1))
    sched = scheduler(session_factory)
    sched.tick(clock.now())
    clock.advance(days=3.5)  # the scheduler was down: May 1, 2, 3 and 4 at 09:00 passed

    sched.tick(clock.now())

    charges = charges_of(session_factory, sub_id)
    assert [(c.cycle_at, c.status) for c in charges] == [
        (kst(2025, 5, 1, 9), ChargeStatus.SKIPPED),
        (kst(2025, 5, 2, 9), ChargeStatus.SKIPPED),
        (kst(2025, 5, 3, 9), ChargeStatus.SKIPPED),
        (kst(2025, 5, 4, 9), ChargeStatus.PENDING),
    ]
    assert [c.order_id for c in charges] == [order_id_for(sub_id, c.cycle_at) for c in charges]
    assert all(c.enqueued_at is None for c in charges[:3])
    assert published(sched) == [charges[-1].id]  # SKIPPED rows never go to Toss
    next_at = subscription(session_factory, sub_id).next_charge_at
    assert next_at == kst(2025, 5, 5, 9)
    assert next_at is not None and next_at > clock.now()
    assert sched.last_pass.skipped == 3


def test_skipped_rows_are_capped_per_pass_and_the_rest_logged(
    session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 5, 1))
    sched = scheduler(session_factory, max_skipped_per_pass=5)
    with caplog.at_level(logging.WARNING, logger="scheduler.claim"):
        sched.tick(kst(2025, 5, 20, 10))  # 20 cycles due: May 1..20

    charges = charges_of(session_factory, sub_id)
    assert [c.cycle_at.day for c in charges] == [15, 16, 17, 18, 19, 20]  # 5 newest skipped
    assert [c.status for c in charges].count(ChargeStatus.SKIPPED) == 5
    assert f"subscription_id={sub_id} skipped_recorded=5 older_unrecorded=14" in caplog.text


@pytest.mark.parametrize(
    ("cron", "days", "expected_local"),
    [
        # Spring forward (Mar 9, 02:00 -> 03:00): 02:30 does not exist, moved to 03:30 EDT.
        ("30 2 * * *", (7, 8, 9, 10, 11), ["02:30", "02:30", "03:30", "02:30", "02:30"]),
        # Fall back (Nov 2, 02:00 -> 01:00): 01:30 happens twice, charged once (the first).
        ("30 1 * * *", (1, 2, 3), ["01:30", "01:30", "01:30"]),
    ],
)
def test_new_york_dst_one_charge_per_local_day(
    session_factory: sessionmaker[Session],
    cron: str,
    days: tuple[int, ...],
    expected_local: list[str],
) -> None:
    tz = "America/New_York"
    month = 3 if days[0] == 7 else 11
    start = at(tz, 2025, month, days[0])
    clock = ManualClock(start)
    sub_id = make_subscription(session_factory, cron=cron, tz=tz, start_at=start)
    run_until(scheduler(session_factory), clock, at(tz, 2025, month, days[-1], 23))

    charges = charges_of(session_factory, sub_id)
    local = [c.cycle_at.astimezone(ZoneInfo(tz)) for c in charges]
    assert [d.day for d in local] == list(days)
    assert [d.strftime("%H:%M") for d in local] == expected_local
    assert {c.status for c in charges} == {ChargeStatus.PENDING}
    if month == 11:  # the first 01:30 on Nov 2 is EDT (05:30 UTC), not EST (06:30 UTC)
        assert charges[1].cycle_at == at(tz, 2025, 11, 2, 1, 30, fold=0)
        assert charges[1].cycle_at.hour == 5


def test_seoul_midnight_cycle_is_the_previous_utc_day(
    session_factory: sessionmaker[Session],
) -> None:
    clock = ManualClock(kst(2025, 6, 1))
    sub_id = make_subscription(session_factory, cron="0 0 * * *", start_at=kst(2025, 6, 1, 1))
    run_until(scheduler(session_factory), clock, kst(2025, 6, 3, 12))
    assert [c.cycle_at for c in charges_of(session_factory, sub_id)] == [
        kst(2025, 6, 2),
        kst(2025, 6, 3),
    ]
    assert charges_of(session_factory, sub_id)[0].cycle_at.hour == 15


def test_amount_change_applies_to_the_next_created_charge_only(
    session_factory: sessionmaker[Session],
) -> None:
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 5, 1))
    sched = scheduler(session_factory)
    sched.tick(kst(2025, 5, 1, 9))
    with session_factory() as s:
        s.execute(update(Subscription).values(amount=12900, order_name="Plan Plus"))
        s.commit()
    sched.tick(kst(2025, 5, 2, 9))

    first, second = charges_of(session_factory, sub_id)
    assert (first.amount, first.order_name) == (9900, "Plan")
    assert (second.amount, second.order_name) == (12900, "Plan Plus")


def test_cron_change_takes_effect(session_factory: sessionmaker[Session]) -> None:
    sub_id = make_subscription(session_factory, cron="0 9 * * *", start_at=kst(2025, 5, 1))
    sched = scheduler(session_factory)
    sched.tick(kst(2025, 5, 1, 9))
    # The service layer recomputes next_charge_at when the cycle changes.
    new_cron = "0 18 * * 5"  # Fridays 18:00
    with session_factory() as s:
        s.execute(
            update(Subscription).values(
                cron=new_cron,
                next_charge_at=first_cycle_at_or_after(new_cron, "Asia/Seoul", kst(2025, 5, 1, 10)),
            )
        )
        s.commit()
    clock = ManualClock(kst(2025, 5, 1, 10))
    run_until(sched, clock, kst(2025, 5, 10))
    assert [c.cycle_at for c in charges_of(session_factory, sub_id)] == [
        kst(2025, 5, 1, 9),
        kst(2025, 5, 2, 18),
        kst(2025, 5, 9, 18),
    ]


@pytest.mark.parametrize(
    "status", [SubscriptionStatus.PAUSED, SubscriptionStatus.UNPAID, SubscriptionStatus.CANCELED]
)
def test_unschedulable_subscriptions_produce_nothing(
    session_factory: sessionmaker[Session], status: SubscriptionStatus
) -> None:
    sub_id = make_subscription(
        session_factory, status=status.value, next_charge_at=None, start_at=kst(2025, 5, 1)
    )
    sched = scheduler(session_factory)
    sched.tick(kst(2025, 6, 1))
    assert charges_of(session_factory, sub_id) == []
    assert published(sched) == []


def test_paused_row_with_stale_next_charge_at_gets_no_charge(
    session_factory: sessionmaker[Session],
) -> None:
    sub_id = make_subscription(
        session_factory, status=SubscriptionStatus.PAUSED.value, start_at=kst(2025, 5, 1)
    )
    assert subscription(session_factory, sub_id).next_charge_at is not None
    sched = scheduler(session_factory)
    sched.tick(kst(2025, 5, 3))
    assert charges_of(session_factory, sub_id) == []
    assert subscription(session_factory, sub_id).next_charge_at is None
    assert sched.last_pass.unscheduled == 1


def test_past_due_subscription_keeps_getting_new_cycles(
    session_factory: sessionmaker[Session],
) -> None:
    sub_id = make_subscription(
        session_factory, status=SubscriptionStatus.PAST_DUE.value, start_at=kst(2025, 5, 1)
    )
    scheduler(session_factory).tick(kst(2025, 5, 1, 9))
    assert len(charges_of(session_factory, sub_id)) == 1


def test_next_charge_at_off_the_cycle_is_realigned_without_charging(
    session_factory: sessionmaker[Session],
) -> None:
    sub_id = make_subscription(
        session_factory, cron="0 9 * * *", next_charge_at=kst(2025, 5, 1, 9, 30)
    )
    sched = scheduler(session_factory)
    assert sched.tick(kst(2025, 5, 1, 10)) == 23 * 3600.0
    assert charges_of(session_factory, sub_id) == []
    assert subscription(session_factory, sub_id).next_charge_at == kst(2025, 5, 2, 9)
    assert timedelta(0) < kst(2025, 5, 2, 9) - kst(2025, 5, 1, 10)
