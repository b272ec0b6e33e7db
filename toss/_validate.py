"""Field rules Toss enforces (facts §2, §3, §5, §7), checked before a request is sent.

The regexes are shared with the sandbox so both sides agree on what is valid. Error messages
name the field and the rule, and never echo the value (it may be a card number).
"""

from __future__ import annotations

import re

from toss._errors import TossValidationError

__all__ = [
    "CUSTOMER_KEY_RE",
    "ORDER_ID_RE",
    "ORDER_NAME_MAX_CHARS",
    "IDEMPOTENCY_KEY_MAX_CHARS",
    "validate_customer_key",
    "validate_order_id",
    "validate_order_name",
    "validate_amount",
    "validate_idempotency_key",
    "validate_card_number",
    "validate_optional_text",
]

#: customerKey: 2–300 of ASCII letters, digits and - _ = . @ (facts §2; 255/50 limits elsewhere
#: are UNCONFIRMED, so we accept the reference's 300 and advise callers to stay <= 50).
CUSTOMER_KEY_RE = re.compile(r"[A-Za-z0-9\-_=.@]{2,300}")
#: orderId: 6–64 of ASCII letters, digits, - and _ (the normative text; '.'/'=' are not allowed).
ORDER_ID_RE = re.compile(r"[A-Za-z0-9\-_]{6,64}")
#: orderName / customerName / customerEmail maximum length, in characters.
ORDER_NAME_MAX_CHARS = 100
#: Idempotency-Key maximum length, in characters (longer -> INVALID_IDEMPOTENCY_KEY).
IDEMPOTENCY_KEY_MAX_CHARS = 300
#: Card number: digits only, at most 20 (facts §3); 14 is the shortest real PAN length.
CARD_NUMBER_RE = re.compile(r"[0-9]{14,20}")


def _require_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise TossValidationError(field, f"must be a string, got {type(value).__name__}")
    return value


def validate_customer_key(value: str) -> str:
    """Return ``value`` if it is a valid customerKey; raise TossValidationError otherwise."""
    value = _require_str("customer_key", value)
    if not CUSTOMER_KEY_RE.fullmatch(value):
        raise TossValidationError(
            "customer_key",
            f"must be 2-300 characters of letters, digits and -_=.@ (got {len(value)} chars)",
        )
    return value


def validate_order_id(value: str) -> str:
    """Return ``value`` if it is a valid orderId (6–64 of [A-Za-z0-9_-])."""
    value = _require_str("order_id", value)
    if not ORDER_ID_RE.fullmatch(value):
        raise TossValidationError(
            "order_id", f"must be 6-64 characters of letters, digits, - and _ (got {value!r})"
        )
    return value


def validate_order_name(value: str) -> str:
    """Return ``value`` if it is a valid orderName (1–100 characters)."""
    value = _require_str("order_name", value)
    if not 1 <= len(value) <= ORDER_NAME_MAX_CHARS:
        raise TossValidationError(
            "order_name", f"must be 1-{ORDER_NAME_MAX_CHARS} characters (got {len(value)})"
        )
    return value


def validate_amount(value: int, *, field: str = "amount") -> int:
    """Return ``value`` if it is a positive int number of KRW (bool/float/str are refused).

    The 100 KRW card minimum is Toss's rule and left to Toss (BELOW_MINIMUM_AMOUNT), so a
    caller sees the same code whichever side refuses it.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TossValidationError(field, f"must be an int (KRW), got {type(value).__name__}")
    if value <= 0:
        raise TossValidationError(field, f"must be positive, got {value}")
    return value


def validate_non_negative_amount(value: int, *, field: str) -> int:
    """Like ``validate_amount`` but allows 0 (tax-free parts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TossValidationError(field, f"must be an int (KRW), got {type(value).__name__}")
    if value < 0:
        raise TossValidationError(field, f"must not be negative, got {value}")
    return value


def validate_idempotency_key(value: str | None) -> str | None:
    """Return ``value`` (None allowed) if it is at most 300 characters and not empty."""
    if value is None:
        return None
    value = _require_str("idempotency_key", value)
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX_CHARS:
        raise TossValidationError(
            "idempotency_key",
            f"must be 1-{IDEMPOTENCY_KEY_MAX_CHARS} characters (got {len(value)})",
        )
    return value


def validate_card_number(value: str) -> str:
    """Return ``value`` if it is 14–20 digits. The message never contains the number."""
    value = _require_str("card_number", value)
    if not CARD_NUMBER_RE.fullmatch(value):
        raise TossValidationError("card_number", f"must be 14-20 digits (got {len(value)} chars)")
    return value


def validate_optional_text(field: str, value: str | None, *, max_chars: int) -> str | None:
    """Return ``value`` if it is None or a string of 1..max_chars characters."""
    if value is None:
        return None
    value = _require_str(field, value)
    if not 1 <= len(value) <= max_chars:
        raise TossValidationError(field, f"must be 1-{max_chars} characters (got {len(value)})")
    return value
