"""The sandbox's state: billing keys, payments, idempotency records, faults; optional JSON file.

Everything is indexed by dict (billingKey, paymentKey, orderId, idempotency scope) so a request
costs O(1) however long the ledger grows. With a state file, each mutation rewrites it
atomically (temp file + ``os.replace``): simple and crash-safe, but O(n) per write, so the
benchmark runs without one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from toss.sandbox.triggers import Faults

__all__ = ["Store", "IDEMPOTENCY_TTL_SECONDS", "scope_id"]

#: Toss keeps an idempotency key for 15 days (facts §7).
IDEMPOTENCY_TTL_SECONDS = 15 * 24 * 3600
_FORMAT_VERSION = 1


def scope_id(*, idempotency_key: str, secret_key: str, method: str, path: str) -> str:
    """Idempotency scope = key + API key + method + URL (facts §7), hashed (no key on disk)."""
    raw = "\n".join((idempotency_key, secret_key, method, path))
    return hashlib.sha256(raw.encode()).hexdigest()


class Store:
    """In-memory state. Single-threaded use from the event loop; no locks needed."""

    def __init__(self, state_file: str | os.PathLike[str] | None = None) -> None:
        self.state_file = Path(state_file) if state_file else None
        self.faults = Faults()
        self.reset(save=False)
        if self.state_file and self.state_file.exists():
            self._load()

    def reset(self, *, save: bool = True) -> None:
        #: billingKey -> {billingKey, customerKey, authenticatedAt, card, magic}
        self.keys: dict[str, dict[str, Any]] = {}
        #: sandbox authKey -> {customerKey, cardNumber}; single use
        self.auth_keys: dict[str, dict[str, Any]] = {}
        #: paymentKey -> Payment object (current state); insertion order = approval order
        self.payments: dict[str, dict[str, Any]] = {}
        #: orderId -> paymentKey of the approved payment
        self.by_order: dict[str, str] = {}
        #: scope id -> {"status", "body", "storedAt" (epoch seconds)}
        self.idempotency: dict[str, dict[str, Any]] = {}
        #: scope ids whose first request is still running (never persisted)
        self.in_flight: set[str] = set()
        self.faults.clear()
        if save:
            self.save()

    def add_payment(self, payment: dict[str, Any]) -> None:
        self.payments[payment["paymentKey"]] = payment
        self.by_order[payment["orderId"]] = payment["paymentKey"]

    def payment_by_order(self, order_id: str) -> dict[str, Any] | None:
        payment_key = self.by_order.get(order_id)
        return self.payments.get(payment_key) if payment_key else None

    def save(self) -> None:
        """Write the state file atomically (no-op without one)."""
        if self.state_file is None:
            return
        data = {
            "version": _FORMAT_VERSION,
            "keys": self.keys,
            "authKeys": self.auth_keys,
            "payments": list(self.payments.values()),
            "idempotency": self.idempotency,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.state_file.parent, prefix=".sandbox-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, ensure_ascii=False)
            os.replace(tmp, self.state_file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{self.state_file}: unsupported sandbox state version")
        self.keys = data["keys"]
        self.auth_keys = data["authKeys"]
        for payment in data["payments"]:
            self.add_payment(payment)
        self.idempotency = data["idempotency"]
