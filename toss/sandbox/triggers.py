"""Sandbox-only failure modes: magic card numbers and the scriptable faults (docs/sandbox.md).

Both are data the tests control (STYLE G11) rather than patches: a magic card's behaviour is
stored on the billing key issued from it, and faults are counters consumed by charges.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from toss._codes import CATALOGUE

__all__ = ["ISSUE_FAILURES", "magic_behaviour", "take_magic_decline", "Faults", "FaultSet"]

#: Cards whose every charge declines with the given code.
ALWAYS_DECLINE = {
    "4000000000000002": "REJECT_CARD_PAYMENT",
    "4000000000000069": "INVALID_CARD_EXPIRATION",
    "4000000000000119": "INVALID_STOPPED_CARD",
    "4000000000000127": "EXCEED_MAX_DAILY_PAYMENT_COUNT",
}
#: 400000000000300N: the first N charges of a key from this card decline REJECT_CARD_PAYMENT.
_FIRST_N = re.compile(r"400000000000300([1-9])")
#: Cards whose billing-key issuance itself fails with the given code.
ISSUE_FAILURES = {"4000000000009995": "INVALID_CARD_NUMBER"}


def magic_behaviour(card_number: str) -> dict[str, Any] | None:
    """What charges of a key issued from ``card_number`` do; None for an ordinary card.

    ``remaining`` -1 means "always"; otherwise the number of declines left.
    """
    if card_number in ALWAYS_DECLINE:
        return {"code": ALWAYS_DECLINE[card_number], "remaining": -1}
    match = _FIRST_N.fullmatch(card_number)
    if match:
        return {"code": "REJECT_CARD_PAYMENT", "remaining": int(match.group(1))}
    return None


def take_magic_decline(key: dict[str, Any]) -> str | None:
    """The decline code for this charge of billing-key record ``key`` (consumes one)."""
    magic = key.get("magic")
    if not magic or magic["remaining"] == 0:
        return None
    if magic["remaining"] > 0:
        magic["remaining"] -= 1
    return str(magic["code"])


@dataclass
class FaultSet:
    """Counters for one scope (all charges, or one customerKey)."""

    latencyMs: int = 0  # noqa: N815 -- JSON names, shown as-is by GET /sandbox/faults
    fail500: int = 0
    dropResponse: int = 0  # noqa: N815
    declineCode: str | None = None  # noqa: N815
    declineCount: int = 0  # noqa: N815


@dataclass
class Faults:
    """Global faults plus faults scoped to a customerKey (scoped ones are consumed first)."""

    everyone: FaultSet = field(default_factory=FaultSet)
    by_customer: dict[str, FaultSet] = field(default_factory=dict)

    def update(self, payload: dict[str, Any]) -> None:
        """Merge a POST /sandbox/faults body; raises ValueError naming a bad field."""
        customer = payload.get("customerKey")
        if customer is not None and not isinstance(customer, str):
            raise ValueError("customerKey must be a string")
        target = self.by_customer.setdefault(customer, FaultSet()) if customer else self.everyone
        for name in ("latencyMs", "fail500", "dropResponse", "declineCount"):
            if name in payload:
                value = payload[name]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise ValueError(f"{name} must be a non-negative int")
                setattr(target, name, value)
        if "declineCode" in payload:
            code = payload["declineCode"]
            if code is not None and code not in CATALOGUE:
                raise ValueError("declineCode must be a code from the catalogue")
            target.declineCode = code
            if code and "declineCount" not in payload:
                target.declineCount = 1

    def clear(self) -> None:
        self.everyone = FaultSet()
        self.by_customer.clear()

    def latency_ms(self, customer_key: str) -> int:
        scoped = self.by_customer.get(customer_key)
        return (scoped.latencyMs if scoped else 0) or self.everyone.latencyMs

    def take(self, customer_key: str, name: str) -> bool:
        """Consume one ``fail500``/``dropResponse`` for this charge, if any is armed."""
        for target in (self.by_customer.get(customer_key), self.everyone):
            if target is not None and getattr(target, name) > 0:
                setattr(target, name, getattr(target, name) - 1)
                return True
        return False

    def take_decline(self, customer_key: str) -> str | None:
        for target in (self.by_customer.get(customer_key), self.everyone):
            if target is not None and target.declineCode and target.declineCount > 0:
                target.declineCount -= 1
                return target.declineCode
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self.everyone),
            "byCustomerKey": {k: asdict(v) for k, v in self.by_customer.items()},
        }
