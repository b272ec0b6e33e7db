"""Typed results: ``Payment`` and ``Billing`` (facts §4, §5.1).

Unknown fields are kept (``extra="allow"``) because Toss adds fields without a version bump;
enum-like strings (status, method) stay plain ``str`` for the same reason. Amounts are ``int``
KRW; times are aware datetimes (a naive value is read as KST, Toss's zone, rather than failing
on a charge that already happened).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic.alias_generators import to_camel

from toss._auth import mask

__all__ = ["Payment", "Billing", "Card", "Cancel", "Failure", "KST"]

#: Korea Standard Time; Toss stamps objects in +09:00.
KST = timezone(timedelta(hours=9), "KST")


def _aware(value: Any) -> Any:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=KST)
    return value


AwareTime = Annotated[datetime, BeforeValidator(_aware)]


class _TossModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="allow", frozen=True
    )

    @property
    def raw(self) -> dict[str, Any]:
        """The object as Toss's JSON (camelCase, unknown fields included)."""
        return self.model_dump(by_alias=True, mode="json")


class Card(_TossModel):
    """The ``card`` block of a Payment or Billing. ``number`` is already masked by Toss."""

    issuer_code: str | None = None
    acquirer_code: str | None = None
    number: str | None = None
    card_type: str | None = None
    owner_type: str | None = None
    amount: int | None = None
    installment_plan_months: int | None = None
    approve_no: str | None = None
    acquire_status: str | None = None


class Cancel(_TossModel):
    """One entry of ``Payment.cancels``."""

    cancel_amount: int
    cancel_reason: str | None = None
    tax_free_amount: int = 0
    tax_exemption_amount: int = 0
    refundable_amount: int | None = None
    canceled_at: AwareTime | None = None
    transaction_key: str | None = None
    cancel_status: str | None = None
    receipt_key: str | None = None


class Failure(_TossModel):
    """Why a looked-up payment failed (``status`` ABORTED)."""

    code: str
    message: str | None = None


class Payment(_TossModel):
    """A Toss Payment object. ``status`` DONE = charged; CANCELED/PARTIAL_CANCELED after refunds."""

    payment_key: str
    order_id: str
    status: str
    total_amount: int
    balance_amount: int
    order_name: str | None = None
    type: str | None = None
    method: str | None = None
    m_id: str | None = None
    version: str | None = None
    currency: str | None = None
    country: str | None = None
    requested_at: AwareTime | None = None
    approved_at: AwareTime | None = None
    last_transaction_key: str | None = None
    supplied_amount: int | None = None
    vat: int | None = None
    tax_free_amount: int = 0
    tax_exemption_amount: int = 0
    is_partial_cancelable: bool | None = None
    card: Card | None = None
    cancels: list[Cancel] | None = None
    receipt: dict[str, Any] | None = None
    checkout: dict[str, Any] | None = None
    failure: Failure | None = None

    @property
    def receipt_url(self) -> str | None:
        """The card sales-slip URL, if Toss gave one."""
        return (self.receipt or {}).get("url")

    @property
    def is_done(self) -> bool:
        """True when the charge was approved and not (fully or partly) refunded."""
        return self.status == "DONE"


class Billing(_TossModel):
    """A Toss Billing object (an issued billing key). ``repr``/``str`` mask the billing key."""

    billing_key: str
    customer_key: str
    m_id: str | None = None
    method: str | None = None
    authenticated_at: AwareTime | None = None
    card: Card | None = None
    card_company: str | None = None
    card_number: str | None = None

    def __repr_args__(self) -> Any:
        for name, value in super().__repr_args__():
            yield name, (mask(value) if name == "billing_key" else value)
