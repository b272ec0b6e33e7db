"""Subscription: what to charge (integer KRW), on which cron cycle, in which time zone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base
from models.status import SubscriptionStatus
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.charge import Charge
    from models.customer import Customer

__all__ = ["Subscription"]


class Subscription(Base):
    """``next_charge_at`` is NULL whenever the subscription must not be scheduled (paused,
    unpaid, canceled), so the scheduler's indexed ``next_charge_at <= now`` scan only ever
    sees chargeable rows and its cost grows with the due rows, not the total."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("tax_free_amount >= 0 AND tax_free_amount <= amount", name="tax_free"),
        Index("ix_subscriptions_next_charge_at", "next_charge_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_name: Mapped[str] = mapped_column(String(100))
    #: KRW, integer (no minor units). Read when a cycle's Charge is created.
    amount: Mapped[int]
    tax_free_amount: Mapped[int] = mapped_column(default=0)
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Seoul")
    status: Mapped[str] = mapped_column(String(16), default=SubscriptionStatus.ACTIVE)
    #: The anchor of the cycle: the first charge is at the first cron time at or after it.
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: UTC instant of the next cycle to charge; NULL when not schedulable.
    next_charge_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")
    charges: Mapped[list[Charge]] = relationship(
        back_populates="subscription", order_by="Charge.cycle_at"
    )
