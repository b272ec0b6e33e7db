"""Read-only summaries for operators: ``billbeat status`` and ``billbeat forecast``."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Charge, ChargeStatus, Subscription
from scheduler.cycles import next_cycle_at

__all__ = ["status_summary", "forecast", "MAX_FORECAST_DAYS"]

#: Forecasts look at most this far ahead (a seconds-level cron over a year would not end).
MAX_FORECAST_DAYS = 366
#: Cycles counted per subscription in a forecast before it is cut short (reported as such).
MAX_CYCLES_PER_SUBSCRIPTION = 10_000


def status_summary(session: Session, *, now: datetime, recent: int = 10) -> dict[str, Any]:
    """Subscriptions by status, charges by status, what is due in 24 h, recent failures and the
    dunning queue (charges waiting for a retry or a reconciliation, soonest first), as Charge
    rows for the caller to render."""
    subs = dict(
        session.execute(
            select(Subscription.status, func.count()).group_by(Subscription.status)
        ).all()
    )
    charges = dict(
        session.execute(select(Charge.status, func.count()).group_by(Charge.status)).all()
    )
    horizon = now + timedelta(hours=24)
    due = session.execute(
        select(func.count(), func.coalesce(func.sum(Subscription.amount), 0)).where(
            Subscription.next_charge_at.is_not(None), Subscription.next_charge_at <= horizon
        )
    ).one()
    failures = session.scalars(
        select(Charge)
        .where(Charge.failure_code.is_not(None), Charge.status != ChargeStatus.DONE)
        .order_by(Charge.updated_at.desc())
        .limit(recent)
    ).all()
    dunning = session.scalars(
        select(Charge)
        .where(Charge.status.in_([ChargeStatus.RETRY_SCHEDULED, ChargeStatus.UNKNOWN]))
        .order_by(Charge.next_attempt_at.asc())
        .limit(recent)
    ).all()
    return {
        "now": now,
        "subscriptions": {k: int(v) for k, v in subs.items()},
        "charges": {k: int(v) for k, v in charges.items()},
        "dueNext24h": {"subscriptions": int(due[0]), "amount": int(due[1])},
        "recentFailures": list(failures),
        "dunningQueue": list(dunning),
    }


def forecast(
    session: Session, *, now: datetime, days: int, tz: str = "Asia/Seoul"
) -> dict[str, Any]:
    """The charges the scheduler will create in the next ``days`` days, per local day of ``tz``,
    from each schedulable subscription's cron and zone at today's amounts. Charges nothing."""
    if not 1 <= days <= MAX_FORECAST_DAYS:
        raise ValueError(f"days: must be 1 to {MAX_FORECAST_DAYS}")
    zone = ZoneInfo(tz)
    end = now + timedelta(days=days)
    per_day: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    truncated = []
    rows = session.execute(
        select(Subscription.id, Subscription.cron, Subscription.timezone, Subscription.amount,
               Subscription.next_charge_at)
        .where(Subscription.next_charge_at.is_not(None), Subscription.next_charge_at < end)
    ).all()  # fmt: skip
    for sub_id, cron, sub_tz, amount, first in rows:
        assert first is not None  # filtered in SQL
        at: datetime = first
        n = 0
        while at < end:
            if n >= MAX_CYCLES_PER_SUBSCRIPTION:
                truncated.append(sub_id)
                break
            day = per_day[at.astimezone(zone).date().isoformat()]
            day[0] += 1
            day[1] += amount
            at, n = next_cycle_at(cron, sub_tz, at), n + 1
    return {
        "from": now,
        "days": days,
        "timezone": tz,
        "perDay": [
            {"date": d, "charges": v[0], "amount": v[1]} for d, v in sorted(per_day.items())
        ],
        "totalCharges": sum(v[0] for v in per_day.values()),
        "totalAmount": sum(v[1] for v in per_day.values()),
        "truncatedSubscriptions": truncated,
    }
