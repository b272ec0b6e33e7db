"""Request-body validation as Toss does it (facts §2, §3, §5, §5.4); raises ``ApiError``.

Regexes come from toss/_validate.py so the client and the sandbox agree. Missing or mistyped
fields without a dedicated code answer INVALID_REQUEST, Toss's generic 400.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from toss._models import KST
from toss._validate import CUSTOMER_KEY_RE, ORDER_ID_RE
from toss.sandbox.errors import ApiError

__all__ = ["check_card_issue", "check_auth_issue", "check_charge", "check_cancel"]

_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DIGITS_RE = re.compile(r"[0-9]+")


def _str(body: dict[str, Any], name: str, *, required: bool = True, max_chars: int = 300) -> str:
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise ApiError("INVALID_REQUEST")
    return value


def _int(body: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError("INVALID_REQUEST")
    return value


def _customer_key(body: dict[str, Any]) -> str:
    value = body.get("customerKey")
    if value is None:
        raise ApiError("INVALID_REQUEST")
    if not isinstance(value, str) or not CUSTOMER_KEY_RE.fullmatch(value):
        raise ApiError("INVALID_CUSTOMER_KEY")
    return value


def _optional_person(body: dict[str, Any]) -> None:
    _str(body, "customerName", required=False, max_chars=100)
    email = body.get("customerEmail")
    if email is not None and (
        not isinstance(email, str) or len(email) > 100 or not _EMAIL_RE.fullmatch(email)
    ):
        raise ApiError("INVALID_EMAIL")


def check_card_issue(body: dict[str, Any], *, now: datetime) -> None:
    """/v1/billing/authorizations/card. ``now`` decides whether the card has expired."""
    _customer_key(body)
    number = body.get("cardNumber")
    if not isinstance(number, str):
        raise ApiError("INVALID_REQUEST")
    # Test mode checks only the BIN (facts §3); a BIN cannot start with 0.
    if not (14 <= len(number) <= 20 and _DIGITS_RE.fullmatch(number)) or number[0] == "0":
        raise ApiError("INVALID_CARD_NUMBER")
    year, month = body.get("cardExpirationYear"), body.get("cardExpirationMonth")
    if not isinstance(year, str) or not isinstance(month, str):
        raise ApiError("INVALID_REQUEST")
    if not (len(year) == 2 and len(month) == 2 and (year + month).isdigit()):
        raise ApiError("INVALID_CARD_EXPIRATION")
    if not 1 <= int(month) <= 12:
        raise ApiError("INVALID_CARD_EXPIRATION")
    today = now.astimezone(KST)
    # A card is valid through the last day of its expiry month.
    if (2000 + int(year), int(month)) < (today.year, today.month):
        raise ApiError("INVALID_CARD_EXPIRATION")
    identity = body.get("customerIdentityNumber")
    if not isinstance(identity, str) or len(identity) not in (6, 10) or not identity.isdigit():
        raise ApiError("INVALID_BIRTH_DAY_FORMAT")
    password = body.get("cardPassword")
    if password is not None and (not isinstance(password, str) or not re.fullmatch(
        r"[0-9]{2}", password
    )):  # fmt: skip
        raise ApiError("INVALID_CARD_PASSWORD")
    _optional_person(body)


def check_auth_issue(body: dict[str, Any]) -> None:
    """/v1/billing/authorizations/issue."""
    _str(body, "authKey", max_chars=300)
    _customer_key(body)


def check_charge(body: dict[str, Any]) -> None:
    """/v1/billing/{billingKey}: amounts, ids and optional fields."""
    amount = _int(body, "amount")
    if amount <= 0:
        raise ApiError("BELOW_ZERO_AMOUNT")
    if amount < 100:
        raise ApiError("BELOW_MINIMUM_AMOUNT")
    _customer_key(body)
    order_id = body.get("orderId")
    if order_id is None:
        raise ApiError("INVALID_REQUEST")
    if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
        raise ApiError("INVALID_ORDER_ID")
    name = body.get("orderName")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        raise ApiError("INVALID_ORDER_NAME")
    _optional_person(body)
    tax_free = _int(body, "taxFreeAmount", default=0)
    tax_exemption = _int(body, "taxExemptionAmount", default=0)
    if tax_free < 0 or tax_exemption < 0 or tax_free + tax_exemption > amount:
        raise ApiError("INVALID_REQUEST")
    plan = _int(body, "cardInstallmentPlan", default=0)
    if plan != 0 and not 2 <= plan <= 12:
        raise ApiError("INVALID_CARD_INSTALLMENT_PLAN")


def check_cancel(body: dict[str, Any], payment: dict[str, Any]) -> tuple[int, int]:
    """/v1/payments/{paymentKey}/cancel against the current ``payment``.

    Returns (cancel_amount, tax_free_amount) in KRW.
    """
    reason = body.get("cancelReason")
    if not isinstance(reason, str) or not 1 <= len(reason) <= 200:
        raise ApiError("INVALID_REQUEST")
    if body.get("currency", "KRW") != "KRW":
        raise ApiError("INVALID_REQUEST")
    if payment["status"] == "CANCELED":
        raise ApiError("ALREADY_CANCELED_PAYMENT")
    balance: int = payment["balanceAmount"]
    amount = _int(body, "cancelAmount", default=balance)
    tax_free = _int(body, "taxFreeAmount", default=0)
    if amount <= 0 or tax_free < 0 or tax_free > amount:
        raise ApiError("INVALID_REQUEST")
    # UNCONFIRMED which code answers cancelAmount > balance; facts §6.4: most likely this one.
    if amount > balance:
        raise ApiError("NOT_CANCELABLE_AMOUNT")
    if amount < balance and not payment["isPartialCancelable"]:
        raise ApiError("NOT_ALLOWED_PARTIAL_REFUND")
    if tax_free > payment["taxFreeAmount"]:
        raise ApiError("INVALID_REQUEST")
    refundable = body.get("refundableAmount")
    if refundable is not None and refundable != balance:
        raise ApiError("NOT_MATCHES_REFUNDABLE_AMOUNT")
    return amount, tax_free
