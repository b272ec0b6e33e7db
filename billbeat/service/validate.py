"""Input rules shared by the service functions. Each raises ``ServiceError`` naming the field;
messages never echo a card number or identity number."""

from __future__ import annotations

import re
from datetime import datetime

from billbeat.service.errors import ServiceError

__all__ = [
    "MIN_AMOUNT_KRW",
    "MAX_AMOUNT_KRW",
    "check_amount",
    "check_tax_free_amount",
    "check_text",
    "check_email",
    "check_aware",
    "check_digits",
]

#: Toss's minimum for a card payment (BELOW_MINIMUM_AMOUNT below it), in KRW.
MIN_AMOUNT_KRW = 100
#: Sanity bound (100 million KRW): a larger recurring card charge is almost surely a typo
#: (an extra zero, or minor units where KRW has none).
MAX_AMOUNT_KRW = 100_000_000
#: Length limit of e-mail and name (Toss's customerEmail/customerName limit).
MAX_TEXT_CHARS = 100
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _is_int(value: object) -> bool:
    # bool is an int subclass; True must not become a 1 KRW charge.
    return isinstance(value, int) and not isinstance(value, bool)


def check_amount(value: object, *, field: str = "amount") -> int:
    """An integer number of KRW in [MIN_AMOUNT_KRW, MAX_AMOUNT_KRW]."""
    if not _is_int(value):
        raise ServiceError(field, f"must be a whole number of KRW, got {type(value).__name__}")
    assert isinstance(value, int)
    if value < MIN_AMOUNT_KRW:
        raise ServiceError(
            field, f"must be at least {MIN_AMOUNT_KRW} KRW (Toss card minimum), got {value}"
        )
    if value > MAX_AMOUNT_KRW:
        raise ServiceError(field, f"must be at most {MAX_AMOUNT_KRW} KRW, got {value}")
    return value


def check_tax_free_amount(value: object, *, amount: int) -> int:
    """An integer number of KRW in [0, amount]."""
    if not _is_int(value):
        raise ServiceError(
            "tax_free_amount", f"must be a whole number of KRW, got {type(value).__name__}"
        )
    assert isinstance(value, int)
    if not 0 <= value <= amount:
        raise ServiceError("tax_free_amount", f"must be between 0 and the amount {amount}")
    return value


def check_text(field: str, value: object, *, max_chars: int = MAX_TEXT_CHARS) -> str:
    """A string of 1..max_chars characters without control characters."""
    if not isinstance(value, str):
        raise ServiceError(field, f"must be text, got {type(value).__name__}")
    if not 1 <= len(value) <= max_chars:
        raise ServiceError(field, f"must be 1-{max_chars} characters (got {len(value)})")
    if value.strip() == "":
        raise ServiceError(field, "must not be blank")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ServiceError(field, "must not contain control characters")
    return value


def check_email(value: object) -> str:
    """A plausible e-mail address (one @, a dot in the domain, no spaces), <= 100 chars."""
    text = check_text("email", value)
    if not _EMAIL_RE.fullmatch(text):
        raise ServiceError("email", "must look like name@example.com")
    return text


def check_aware(field: str, value: object) -> datetime:
    """An aware datetime (a naive one is ambiguous: which zone?)."""
    if not isinstance(value, datetime):
        raise ServiceError(field, f"must be a date-time, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ServiceError(field, "must include a UTC offset, e.g. 2025-05-01T09:00:00+09:00")
    return value


def check_digits(field: str, value: object, *, lengths: tuple[int, ...], what: str) -> str:
    """A string of ASCII digits whose length is one of ``lengths``. Never echoes the value."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise ServiceError(field, f"must be {what} (digits only)")
    if len(value) not in lengths:
        raise ServiceError(field, f"must be {what} (got {len(value)} digits)")
    return value
