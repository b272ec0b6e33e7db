"""Rows and readers for scheduler tests: subscriptions are created directly (the service
layer that normally sets ``next_charge_at`` is tested elsewhere)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from models import Charge, Customer, Subscription, SubscriptionStatus
from scheduler.cycles import first_cycle_at_or_after

__all__ = [
    "at",
    "kst",
    "make_customer",
    "make_subscription",
    "bulk_subscriptions",
    "charges_of",
    "all_charges",
    "subscription",
]

_keys = itertools.count(1)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(tz: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``tz`` as an aware UTC datetime."""
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold).astimezone(UTC)  # type: ignore[misc]


def kst(*args: int) -> datetime:
    return at("Asia/Seoul", *args)


def make_customer(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        customer = Customer(customer_key=f"cus_sched_{next(_keys):08d}", created_at=T0)
        session.add(customer)
        session.commit()
        return customer.id


def _sub_values(customer_id: int, **kw: Any) -> dict[str, Any]:
    cron = kw.pop("cron", "0 9 * * *")
    tz = kw.pop("tz", "Asia/Seoul")
    start_at = kw.pop("start_at", T0)
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "order_name": "Plan",
        "amount": 9900,
        "tax_free_amount": 0,
        "cron": cron,
        "timezone": tz,
        "status": SubscriptionStatus.ACTIVE.value,
        "start_at": start_at,
        "next_charge_at": first_cycle_at_or_after(cron, tz, start_at),
        "created_at": T0,
        "updated_at": T0,
        "canceled_at": None,
    }
    values.update(kw)
    return values


def make_subscription(factory: sessionmaker[Session], **kw: Any) -> int:
    """One subscription; ``next_charge_at`` defaults to the first cycle at/after start_at."""
    customer_id = kw.pop("customer_id", None) or make_customer(factory)
    with factory() as session:
        sub = Subscription(**_sub_values(customer_id, **kw))
        session.add(sub)
        session.commit()
        return sub.id


def bulk_subscriptions(factory: sessionmaker[Session], count: int, **kw: Any) -> None:
    """``count`` subscriptions of one customer in one INSERT."""
    customer_id = make_customer(factory)
    row = _sub_values(customer_id, **kw)
    with factory() as session:
        session.execute(insert(Subscription), [dict(row) for _ in range(count)])
        session.commit()


def charges_of(factory: sessionmaker[Session], subscription_id: int) -> list[Charge]:
    with factory() as session:
        return list(
            session.scalars(
                select(Charge)
                .where(Charge.subscription_id == subscription_id)
                .order_by(Charge.cycle_at)
            )
        )


def all_charges(factory: sessionmaker[Session]) -> list[Charge]:
    with factory() as session:
        return list(session.scalars(select(Charge).order_by(Charge.id)))


def subscription(factory: sessionmaker[Session], subscription_id: int) -> Subscription:
    with factory() as session:
        sub = session.get(Subscription, subscription_id)
        assert sub is not None
        return sub
