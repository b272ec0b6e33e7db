"""Charges: list, show, and an operator's retry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billbeat.service._tx import unit_of_work
from billbeat.service.errors import ConflictError, NotFoundError, ServiceError
from billbeat.service.subscriptions import CANCELED_FAILURE_CODE, get_subscription
from billbeat.service.validate import check_aware
from models import Charge, ChargeStatus, SubscriptionStatus

__all__ = ["list_charges", "get_charge", "retry_charge"]


def list_charges(
    session: Session, *, subscription_id: int | None = None, status: str | None = None
) -> list[Charge]:
    """Charges ordered by id, optionally of one subscription and/or in one status."""
    stmt = select(Charge).order_by(Charge.id)
    if subscription_id is not None:
        get_subscription(session, subscription_id)  # NotFoundError for an unknown id
        stmt = stmt.where(Charge.subscription_id == subscription_id)
    if status is not None:
        if status not in ChargeStatus.__members__:
            raise ServiceError("status", f"must be one of {', '.join(ChargeStatus.__members__)}")
        stmt = stmt.where(Charge.status == status)
    return list(session.scalars(stmt))


def get_charge(session: Session, charge_id: int, *, for_update: bool = False) -> Charge:
    """The charge ``charge_id``; NotFoundError if there is none."""
    if isinstance(charge_id, bool) or not isinstance(charge_id, int) or charge_id <= 0:
        raise ServiceError("charge", "id must be a positive whole number")
    stmt = select(Charge).where(Charge.id == charge_id)
    if for_update:
        stmt = stmt.with_for_update()
    charge = session.scalars(stmt).one_or_none()
    if charge is None:
        raise NotFoundError("charge", f"no charge with id {charge_id}")
    return charge


def retry_charge(session: Session, charge_id: int, *, now: datetime) -> Charge:
    """Make a declined charge due now: status RETRY_SCHEDULED, ``next_attempt_at = now``,
    ``waiting_for_card`` False. The scheduler publishes it within one tick (same orderId, a
    new attempt with a new idempotency key); for an immediate run use
    ``celery -A worker call billbeat.retry_charge_now --args '[ID]'``.

    Allowed for RETRY_SCHEDULED and FAILED charges of a non-canceled subscription.
    Refused (ConflictError) for DONE and SKIPPED (final), PENDING (already queued),
    PROCESSING (in flight) and UNKNOWN (must be reconciled first: retrying could double-charge).
    """
    check_aware("now", now)
    with unit_of_work(session):
        charge = get_charge(session, charge_id, for_update=True)
        if charge.status not in (ChargeStatus.RETRY_SCHEDULED, ChargeStatus.FAILED):
            raise ConflictError("charge", f"{charge.id} is {charge.status}; {_why(charge.status)}")
        sub = get_subscription(session, charge.subscription_id)
        if sub.status == SubscriptionStatus.CANCELED or (
            charge.failure_code == CANCELED_FAILURE_CODE
        ):
            raise ConflictError("charge", f"{charge.id} belongs to a CANCELED subscription")
        charge.status = ChargeStatus.RETRY_SCHEDULED
        charge.next_attempt_at = now
        charge.waiting_for_card = False
        charge.updated_at = now
    return charge


def _why(status: str) -> str:
    reasons: dict[str, str] = {
        ChargeStatus.DONE: "it was paid",
        ChargeStatus.SKIPPED: "a skipped cycle is final",
        ChargeStatus.PENDING: "it is already queued",
        ChargeStatus.PROCESSING: "a worker is charging it now",
        ChargeStatus.UNKNOWN: "its outcome is being reconciled first",
    }
    return reasons.get(status, "it cannot be retried")
