"""Helpers shared by the subscription and card services: where the next cycle is, and
whether a subscription still has a charge in flight."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import Charge, Subscription
from models.status import OPEN_CHARGE_STATUSES, SubscriptionStatus
from scheduler.cycles import first_cycle_at_or_after, next_cycle_at

__all__ = ["next_uncharged_cycle", "has_open_charge", "status_after_resume"]


def next_uncharged_cycle(session: Session, sub: Subscription, now: datetime) -> datetime:
    """The first cycle at or after ``now`` that has no Charge row yet.

    "At or after" so a cycle due this very second is not lost; but if the scheduler already
    created that cycle's charge (same instant), the one after it is the next to charge.
    """
    at = first_cycle_at_or_after(sub.cron, sub.timezone, now)
    if sub.id is not None:
        taken = session.scalar(
            select(exists().where(Charge.subscription_id == sub.id, Charge.cycle_at == at))
        )
        if taken:
            at = next_cycle_at(sub.cron, sub.timezone, at)
    return at


def has_open_charge(session: Session, subscription_id: int) -> bool:
    """True if a charge of the subscription is not final yet (PENDING ... UNKNOWN)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    Charge.subscription_id == subscription_id,
                    Charge.status.in_([s.value for s in OPEN_CHARGE_STATUSES]),
                )
            )
        )
    )


def status_after_resume(session: Session, sub: Subscription) -> SubscriptionStatus:
    """PAST_DUE while an earlier charge is still open (dunning goes on), else ACTIVE."""
    if has_open_charge(session, sub.id):
        return SubscriptionStatus.PAST_DUE
    return SubscriptionStatus.ACTIVE
