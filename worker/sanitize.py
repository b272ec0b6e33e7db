"""What of a Toss response is kept in ``ChargeAttempt.response``: an allow-list, plus a scrub.

The billing key (together with the customerKey it can charge a card) must never reach the
database in clear, and card numbers only as Toss's mask. So only known, harmless fields are
kept (unknown fields Toss adds later are dropped, not trusted), and every kept string is
checked against the secrets of the call and against anything that looks like a card number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["sanitize_response", "mask_card_number"]

#: Top-level Payment / error fields worth keeping for support and reconciliation.
_TOP = frozenset({
    "version", "mId", "paymentKey", "orderId", "orderName", "type", "method", "status",
    "currency", "country", "totalAmount", "balanceAmount", "suppliedAmount", "vat",
    "taxFreeAmount", "taxExemptionAmount", "requestedAt", "approvedAt", "lastTransactionKey",
    "isPartialCancelable", "code", "message",
})  # fmt: skip
#: Fields of ``card`` (``number`` is re-masked below).
_CARD = frozenset({
    "issuerCode", "acquirerCode", "number", "cardType", "ownerType", "amount",
    "installmentPlanMonths", "approveNo", "acquireStatus", "isInterestFree", "useCardPoint",
})  # fmt: skip
_CANCEL = frozenset({"cancelAmount", "canceledAt", "cancelStatus", "transactionKey"})
_FAILURE = frozenset({"code", "message"})
#: 12+ consecutive digits could be a full card number.
_LONG_DIGITS = re.compile(r"\d{12,}")
_REDACTED = "***"


def mask_card_number(value: str) -> str:
    """Keep a Toss-style mask as is; turn any run of 12+ digits into first 6 + ``*``s."""
    return _LONG_DIGITS.sub(lambda m: m.group(0)[:6] + "*" * (len(m.group(0)) - 6), value)


def _pick(data: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in allowed}


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, _REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value


def sanitize_response(
    data: Mapping[str, Any] | None, *, secrets: Iterable[str] = ()
) -> dict[str, Any] | None:
    """A copy of a Toss response (Payment object or error body) safe to store.

    ``secrets``: values that must not appear anywhere (the billing key of the call).
    """
    if not data:
        return None
    out = _pick(data, _TOP)
    card = data.get("card")
    if isinstance(card, Mapping):
        out["card"] = _pick(card, _CARD)
        if isinstance(out["card"].get("number"), str):
            out["card"]["number"] = mask_card_number(out["card"]["number"])
    if isinstance(out.get("message"), str):
        # Free text may echo request data; identifiers (paymentKey, ...) are left alone.
        out["message"] = mask_card_number(out["message"])
    receipt = data.get("receipt")
    if isinstance(receipt, Mapping) and isinstance(receipt.get("url"), str):
        out["receipt"] = {"url": receipt["url"]}
    failure = data.get("failure")
    if isinstance(failure, Mapping):
        out["failure"] = _pick(failure, _FAILURE)
        if isinstance(out["failure"].get("message"), str):
            out["failure"]["message"] = mask_card_number(out["failure"]["message"])
    cancels = data.get("cancels")
    if isinstance(cancels, list):
        out["cancels"] = [_pick(c, _CANCEL) for c in cancels if isinstance(c, Mapping)]
    return dict(_scrub(out, tuple(s for s in secrets if s)))
