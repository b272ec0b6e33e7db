"""A card's billing key, encrypted at rest. Card numbers are never stored, only Toss's mask."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base
from models.status import BillingKeyStatus
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.customer import Customer

__all__ = ["BillingKey"]


class BillingKey(Base):
    """One registered card. The customer's newest ACTIVE key charges all their subscriptions;
    older ones are kept as REPLACED (never deleted) so the record stays complete."""

    __tablename__ = "billing_keys"
    __table_args__ = (Index("ix_billing_keys_customer_status", "customer_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    #: Fernet token of the billing key (see models.crypto); never the plain key.
    billing_key_encrypted: Mapped[str] = mapped_column(Text)
    card_number_masked: Mapped[str | None] = mapped_column(String(32))
    card_company: Mapped[str | None] = mapped_column(String(32))
    card_type: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=BillingKeyStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="billing_keys")

    def __repr__(self) -> str:
        return f"BillingKey(id={self.id}, card={self.card_number_masked}, status={self.status})"
