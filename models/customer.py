"""Customer: the buyer, known to Toss only by an opaque random ``customerKey``."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base
from models.types import UTCDateTime

if TYPE_CHECKING:
    from models.billing_key import BillingKey
    from models.subscription import Subscription

__all__ = ["Customer", "new_customer_key"]


def new_customer_key() -> str:
    """A random, non-guessable customerKey (Toss: never an email, phone or sequence).

    ``cus_`` + 32 hex digits of a UUID4: 36 characters from Toss's allowed set, within the
    conservative 50-character limit some Toss SDK wrappers enforce.
    """
    return f"cus_{uuid.uuid4().hex}"


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_key: Mapped[str] = mapped_column(String(300), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    billing_keys: Mapped[list[BillingKey]] = relationship(
        back_populates="customer", order_by="BillingKey.id"
    )
    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="customer")
