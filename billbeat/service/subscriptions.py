"""Subscriptions: create, change, pause, resume, cancel. Creating one charges nothing: the
scheduler creates a Charge when ``next_charge_at`` comes.

Every mutating function validates everything first and writes in one transaction (it commits
on success; on ServiceError nothing is written). Rows are locked (``FOR UPDATE`` on
PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers) so a concurrent scheduler or worker
never interleaves with a state change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billbeat.service._schedule import next_uncharged_cycle, status_after_resume
from billbeat.service._tx import unit_of_work
from billbeat.service.customers import active_billing_key, get_customer
from billbeat.service.errors import ConflictError, NotFoundError, ServiceError
from billbeat.service.validate import check_amount, check_aware, check_tax_free_amount, check_text
from models import Charge, ChargeStatus, Customer, Subscription, SubscriptionStatus
from scheduler.cycles import validate_cron, validate_timezone

__all__ = [
    "create_subscription",
    "update_subscription",
    "pause_subscription",
    "resume_subscription",
    "cancel_subscription",
    "get_subscription",
    "list_subscriptions",
    "CANCELED_FAILURE_CODE",
]

#: failure_code of an already-attempted charge closed because its subscription was canceled.
CANCELED_FAILURE_CODE = "SUBSCRIPTION_CANCELED"
_SCHEDULABLE = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def _check_cron(cron: object) -> str:
    try:
        return validate_cron(cron)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ServiceError("cron", str(exc)) from None


def _check_timezone(name: object) -> str:
    try:
        validate_timezone(name)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ServiceError("timezone", str(exc)) from None
    assert isinstance(name, str)
    return name


def _check_sub_id(sub_id: object) -> int:
    if isinstance(sub_id, bool) or not isinstance(sub_id, int) or sub_id <= 0:
        raise ServiceError("subscription", "id must be a positive whole number")
    return sub_id


def create_subscription(
    session: Session,
    *,
    customer_key: str,
    amount: int,
    order_name: str,
    cron: str,
    timezone: str = "Asia/Seoul",
    start: datetime | None = None,
    tax_free_amount: int = 0,
    now: datetime,
) -> Subscription:
    """Create an ACTIVE subscription charging ``amount`` KRW on each ``cron`` cycle (local
    wall-clock time in ``timezone``), from the first cycle at or after ``start`` (default
    ``now``; must not be in the past, which would charge a missed cycle at once).

    The customer must have an ACTIVE card: a subscription that cannot be charged would only
    fail on its first cycle. Raises ServiceError (nothing written).
    """
    check_aware("now", now)
    amount = check_amount(amount)
    tax_free_amount = check_tax_free_amount(tax_free_amount, amount=amount)
    order_name = check_text("order_name", order_name)
    cron = _check_cron(cron)
    timezone = _check_timezone(timezone)
    start_at = now if start is None else check_aware("start", start)
    if start_at < now:
        raise ServiceError("start", "must not be in the past (a past start would charge at once)")
    with unit_of_work(session):
        customer = get_customer(session, customer_key)
        if active_billing_key(session, customer.id) is None:
            raise ConflictError(
                "customer_key", "customer has no active card: run `billbeat card register` first"
            )
        sub = Subscription(
            customer_id=customer.id, order_name=order_name, amount=amount,
            tax_free_amount=tax_free_amount, cron=cron, timezone=timezone,
            status=SubscriptionStatus.ACTIVE, start_at=start_at, created_at=now, updated_at=now,
        )  # fmt: skip
        sub.next_charge_at = next_uncharged_cycle(session, sub, start_at)
        session.add(sub)
        session.flush()
    return sub


def get_subscription(session: Session, sub_id: int, *, for_update: bool = False) -> Subscription:
    """The subscription ``sub_id``; NotFoundError if there is none."""
    _check_sub_id(sub_id)
    stmt = select(Subscription).where(Subscription.id == sub_id)
    if for_update:
        stmt = stmt.with_for_update()
    sub = session.scalars(stmt).one_or_none()
    if sub is None:
        raise NotFoundError("subscription", f"no subscription with id {sub_id}")
    return sub


def list_subscriptions(
    session: Session, *, status: str | None = None, customer_key: str | None = None
) -> list[Subscription]:
    """Subscriptions ordered by id, optionally filtered by status and customer."""
    stmt = select(Subscription).order_by(Subscription.id)
    if status is not None:
        if status not in SubscriptionStatus.__members__:
            allowed = ", ".join(SubscriptionStatus.__members__)
            raise ServiceError("status", f"must be one of {allowed}")
        stmt = stmt.where(Subscription.status == status)
    if customer_key is not None:
        customer = get_customer(session, customer_key)
        stmt = stmt.where(Subscription.customer_id == customer.id)
    return list(session.scalars(stmt))


def update_subscription(
    session: Session,
    sub_id: int,
    *,
    amount: int | None = None,
    cron: str | None = None,
    order_name: str | None = None,
    timezone: str | None = None,
    now: datetime,
) -> Subscription:
    """Change what later cycles charge. Amount and order name apply to charges created from
    now on (existing charges keep theirs); a cron or timezone change moves ``next_charge_at``
    to the first new cycle at or after ``now`` (if the subscription is schedulable).
    Refused on a CANCELED subscription."""
    check_aware("now", now)
    if amount is None and cron is None and order_name is None and timezone is None:
        raise ServiceError("update", "give at least one of amount, cron, order_name, timezone")
    if amount is not None:
        amount = check_amount(amount)
    if order_name is not None:
        order_name = check_text("order_name", order_name)
    if cron is not None:
        cron = _check_cron(cron)
    if timezone is not None:
        timezone = _check_timezone(timezone)
    with unit_of_work(session):
        sub = get_subscription(session, sub_id, for_update=True)
        if sub.status == SubscriptionStatus.CANCELED:
            raise ConflictError("subscription", f"{sub.id} is CANCELED and cannot be changed")
        if amount is not None:
            if sub.tax_free_amount > amount:
                raise ServiceError(
                    "amount", f"must be at least the tax-free amount {sub.tax_free_amount}"
                )
            sub.amount = amount
        if order_name is not None:
            sub.order_name = order_name
        if cron is not None or timezone is not None:
            sub.cron = cron or sub.cron
            sub.timezone = timezone or sub.timezone
            if sub.status in _SCHEDULABLE:
                sub.next_charge_at = next_uncharged_cycle(session, sub, now)
        sub.updated_at = now
    return sub


def pause_subscription(session: Session, sub_id: int, *, now: datetime) -> Subscription:
    """ACTIVE/PAST_DUE -> PAUSED: no new cycles until resumed. Charges already created keep
    their course (cancel to stop those)."""
    check_aware("now", now)
    with unit_of_work(session):
        sub = get_subscription(session, sub_id, for_update=True)
        if sub.status not in _SCHEDULABLE:
            raise ConflictError(
                "subscription", f"{sub.id} is {sub.status}; only ACTIVE or PAST_DUE can pause"
            )
        sub.status = SubscriptionStatus.PAUSED
        sub.next_charge_at = None
        sub.updated_at = now
    return sub


def resume_subscription(session: Session, sub_id: int, *, now: datetime) -> Subscription:
    """PAUSED/UNPAID -> ACTIVE (PAST_DUE while an earlier charge is open). The next cycle is
    the first at or after ``now``: cycles missed while paused are not charged. Needs an
    ACTIVE card."""
    check_aware("now", now)
    with unit_of_work(session):
        sub = get_subscription(session, sub_id, for_update=True)
        if sub.status not in (SubscriptionStatus.PAUSED, SubscriptionStatus.UNPAID):
            raise ConflictError(
                "subscription", f"{sub.id} is {sub.status}; only PAUSED or UNPAID can resume"
            )
        if active_billing_key(session, sub.customer_id) is None:
            raise ConflictError("subscription", "customer has no active card: register one")
        sub.status = status_after_resume(session, sub)
        sub.next_charge_at = next_uncharged_cycle(session, sub, now)
        sub.updated_at = now
    return sub


def cancel_subscription(session: Session, sub_id: int, *, now: datetime) -> Subscription:
    """-> CANCELED (final). Open charges not yet sent are closed: SKIPPED if never attempted,
    else FAILED with failure_code SUBSCRIPTION_CANCELED. A charge PROCESSING or UNKNOWN at
    this moment may already have reached Toss, so it is left to the worker to settle (and
    refund if needed); the worker must not start a new attempt for a canceled subscription."""
    check_aware("now", now)
    with unit_of_work(session):
        sub = get_subscription(session, sub_id, for_update=True)
        if sub.status == SubscriptionStatus.CANCELED:
            raise ConflictError("subscription", f"{sub.id} is already CANCELED")
        sub.status = SubscriptionStatus.CANCELED
        sub.canceled_at = now
        sub.next_charge_at = None
        sub.updated_at = now
        closable = [ChargeStatus.PENDING.value, ChargeStatus.RETRY_SCHEDULED.value]
        common = dict(next_attempt_at=None, waiting_for_card=False, updated_at=now)
        # Conditional UPDATEs: a worker claiming a charge concurrently wins or loses cleanly.
        session.execute(
            update(Charge)
            .where(Charge.subscription_id == sub.id, Charge.status.in_(closable),
                   Charge.attempt_count == 0)
            .values(status=ChargeStatus.SKIPPED, **common)
        )  # fmt: skip
        session.execute(
            update(Charge)
            .where(Charge.subscription_id == sub.id, Charge.status.in_(closable),
                   Charge.attempt_count > 0)
            .values(status=ChargeStatus.FAILED, failure_code=CANCELED_FAILURE_CODE,
                    failure_message="subscription canceled before this charge succeeded",
                    **common)
        )  # fmt: skip
    return sub


def customer_key_of(session: Session, sub: Subscription) -> str:
    """The customerKey of ``sub``'s customer (for output)."""
    customer = session.get(Customer, sub.customer_id)
    assert customer is not None
    return customer.customer_key
