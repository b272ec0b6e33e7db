"""Charge (one per subscription cycle) and ChargeAttempt (one per call to Toss)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base
from models.status import ChargeStatus
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.subscription import Subscription

__all__ = ["Charge", "ChargeAttempt", "order_id_for"]


def order_id_for(subscription_id: int, cycle_at: datetime) -> str:
    """The deterministic Toss ``orderId`` of one cycle: ``bb-<sub>-<UTC yyyymmddHHMMSS>``.

    Every attempt at the cycle reuses it, so Toss's DUPLICATED_ORDER_ID is the last line of
    defence against a double charge. Letters, digits and ``-`` only; at most 38 characters.
    """
    return f"bb-{subscription_id}-{cycle_at.strftime('%Y%m%d%H%M%S')}"


class Charge(Base):
    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("subscription_id", "cycle_at", name="uq_charges_subscription_cycle"),
        Index("ix_charges_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"))
    #: The cycle's scheduled instant (UTC); for an off-cycle charge, when it was requested.
    cycle_at: Mapped[datetime] = mapped_column(UTCDateTime())
    order_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_name: Mapped[str] = mapped_column(String(100))
    #: KRW, fixed when the charge is created (a later amount change applies to later cycles).
    amount: Mapped[int]
    tax_free_amount: Mapped[int] = mapped_column(default=0)
    #: CYCLE (created by the scheduler) or MANUAL (off-cycle, by an operator or first payment).
    source: Mapped[str] = mapped_column(String(8), default="CYCLE")
    status: Mapped[str] = mapped_column(String(16), default=ChargeStatus.PENDING)
    #: Distinct attempts sent to Toss (one idempotency key each); re-sends of one attempt
    #: after a timeout, reset or 409 do not count, nor do lookups.
    attempt_count: Mapped[int] = mapped_column(default=0)
    #: Card declines so far: the dunning schedule is spent by these only (transient errors,
    #: unknown outcomes and setup errors do not use it up).
    decline_count: Mapped[int] = mapped_column(default=0)
    #: When the worker should act next (retry or reconcile); NULL when nothing is planned.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: When a task message for this charge was last published (the sweeper re-publishes
    #: PENDING charges whose message was lost, e.g. Redis restarted empty).
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: A PROCESSING claim expires here, so a crashed worker's charge is picked up again.
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: How many reconciliation lookups have run for the current UNKNOWN outcome.
    reconcile_count: Mapped[int] = mapped_column(default=0)
    #: Why a hard-declined charge waits: it resumes when the customer registers a new card.
    waiting_for_card: Mapped[bool] = mapped_column(default=False)
    payment_key: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    receipt_url: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    subscription: Mapped[Subscription] = relationship(back_populates="charges")
    attempts: Mapped[list[ChargeAttempt]] = relationship(
        back_populates="charge", order_by="ChargeAttempt.id"
    )


class ChargeAttempt(Base):
    """Append-only log of every call to Toss for a charge: written before the call (STARTED)
    and completed once after it. A row left STARTED means the process died mid-call."""

    __tablename__ = "charge_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    #: CHARGE or LOOKUP.
    call: Mapped[str] = mapped_column(String(8))
    #: The dunning attempt this call belongs to (re-sends of one attempt share it).
    number: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    #: The amount sent (CHARGE calls).
    amount: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    http_status: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(24))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    #: Toss's response with secrets removed (no billing key, card numbers already masked).
    response: Mapped[dict[str, object] | None] = mapped_column(JSON)
    trace_id: Mapped[str | None] = mapped_column(String(100))

    charge: Mapped[Charge] = relationship(back_populates="attempts")
