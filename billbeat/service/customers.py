"""Customers: created with a random customerKey (Toss: never an e-mail, phone or sequence)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billbeat.service.errors import NotFoundError, ServiceError
from billbeat.service.validate import check_aware, check_email, check_text
from models import BillingKey, BillingKeyStatus, Customer, new_customer_key
from toss import TossValidationError, validate_customer_key

__all__ = ["create_customer", "get_customer", "active_billing_key"]


def create_customer(
    session: Session, *, email: str | None, name: str | None, now: datetime
) -> Customer:
    """Create and commit a customer. ``email``/``name`` are optional (<= 100 characters).

    Raises ServiceError on bad input (nothing written).
    """
    check_aware("now", now)
    if email is not None:
        check_email(email)
    if name is not None:
        check_text("name", name)
    key = new_customer_key()
    try:
        validate_customer_key(key)
    except TossValidationError as exc:  # pragma: no cover - new_customer_key is always valid
        raise ServiceError("customer_key", str(exc)) from None
    customer = Customer(customer_key=key, email=email, name=name, created_at=now)
    try:
        session.add(customer)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return customer


def get_customer(session: Session, customer_key: str, *, for_update: bool = False) -> Customer:
    """The customer with ``customer_key``; NotFoundError if none (ServiceError if malformed)."""
    if not isinstance(customer_key, str) or not customer_key:
        raise ServiceError("customer_key", "must be given")
    try:
        validate_customer_key(customer_key)
    except TossValidationError as exc:
        raise ServiceError("customer_key", exc.message.split(": ", 1)[-1]) from None
    stmt = select(Customer).where(Customer.customer_key == customer_key)
    if for_update:
        stmt = stmt.with_for_update()
    customer = session.scalars(stmt).one_or_none()
    if customer is None:
        raise NotFoundError("customer_key", "no customer with this key")
    return customer


def active_billing_key(session: Session, customer_id: int) -> BillingKey | None:
    """The customer's newest ACTIVE billing key (the one every subscription charges)."""
    stmt = (
        select(BillingKey)
        .where(BillingKey.customer_id == customer_id, BillingKey.status == BillingKeyStatus.ACTIVE)
        .order_by(BillingKey.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()
