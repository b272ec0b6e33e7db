"""Builders for service/CLI tests: a customer with a card (through the real sandbox) and
Charge rows as the scheduler and worker would leave them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billbeat.service import create_customer, register_card
from models import Base, Charge, ChargeStatus, Customer, Subscription, order_id_for
from models.crypto import BillingKeyCipher
from toss import TossClient

__all__ = ["OK_CARD", "customer_with_card", "add_charge", "row_counts"]

#: The sandbox's always-succeeding test card.
OK_CARD = "4330123412341234"


def customer_with_card(
    db: Session, *, toss: TossClient, cipher: BillingKeyCipher, now: datetime
) -> Customer:
    customer = create_customer(db, email="kim@example.com", name="Kim", now=now)
    register_card(
        db, customer_key=customer.customer_key, card_number=OK_CARD, expiry_year="30",
        expiry_month="12", identity_number="900101", toss=toss, cipher=cipher, now=now,
    )  # fmt: skip
    return customer


def add_charge(
    db: Session,
    sub: Subscription,
    *,
    cycle_at: datetime,
    status: ChargeStatus = ChargeStatus.PENDING,
    attempt_count: int = 0,
    waiting_for_card: bool = False,
    next_attempt_at: datetime | None = None,
    failure_code: str | None = None,
) -> Charge:
    charge = Charge(
        subscription_id=sub.id, cycle_at=cycle_at, order_id=order_id_for(sub.id, cycle_at),
        order_name=sub.order_name, amount=sub.amount, tax_free_amount=sub.tax_free_amount,
        status=status, attempt_count=attempt_count, decline_count=attempt_count,
        waiting_for_card=waiting_for_card, next_attempt_at=next_attempt_at,
        failure_code=failure_code, created_at=cycle_at, updated_at=cycle_at,
    )  # fmt: skip
    db.add(charge)
    db.commit()
    return charge


def row_counts(db: Session) -> dict[str, int]:
    """Rows per table: bad input must leave these unchanged."""
    return {
        t.name: int(db.scalar(select(func.count()).select_from(t)) or 0)
        for t in Base.metadata.sorted_tables
    }
