"""Rendering: one JSON document on stdout for ``--json``, rich tables otherwise; and the
JSON shapes (camelCase) of subscriptions, charges, attempts and cards."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from models import BillingKey, Charge, ChargeAttempt, Subscription

__all__ = [
    "iso",
    "emit_json",
    "emit_table",
    "emit_record",
    "subscription_doc",
    "charge_doc",
    "charge_detail_doc",
    "attempt_doc",
    "card_doc",
]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (None stays None)."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _console() -> Console:
    # Built per call so it writes to the current sys.stdout (pytest's capsys swaps it).
    return Console(highlight=False, soft_wrap=True)


def emit_json(doc: Any) -> None:
    """Print exactly one JSON document (and a newline) on stdout."""
    print(json.dumps(doc, ensure_ascii=False))


def emit_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title)
    for name in columns:
        table.add_column(name)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    _console().print(table)


def emit_record(title: str, doc: Mapping[str, Any]) -> None:
    """A two-column "field value" table for one object (nested lists are skipped)."""
    rows = [(k, v) for k, v in doc.items() if not isinstance(v, list | dict)]
    emit_table(title, ("field", "value"), rows)


def subscription_doc(sub: Subscription, customer_key: str) -> dict[str, Any]:
    return {
        "id": sub.id,
        "customerKey": customer_key,
        "orderName": sub.order_name,
        "amount": sub.amount,
        "taxFreeAmount": sub.tax_free_amount,
        "cron": sub.cron,
        "timezone": sub.timezone,
        "status": sub.status,
        "startAt": iso(sub.start_at),
        "nextChargeAt": iso(sub.next_charge_at),
        "createdAt": iso(sub.created_at),
        "updatedAt": iso(sub.updated_at),
        "canceledAt": iso(sub.canceled_at),
    }


def charge_doc(charge: Charge) -> dict[str, Any]:
    return {
        "id": charge.id,
        "orderId": charge.order_id,
        "subscriptionId": charge.subscription_id,
        "status": charge.status,
        "amount": charge.amount,
        "attempts": charge.attempt_count,
        "paymentKey": charge.payment_key,
        "failureCode": charge.failure_code,
        "cycleAt": iso(charge.cycle_at),
    }


def attempt_doc(attempt: ChargeAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "call": attempt.call,
        "idempotencyKey": attempt.idempotency_key,
        "amount": attempt.amount,
        "startedAt": iso(attempt.started_at),
        "finishedAt": iso(attempt.finished_at),
        "httpStatus": attempt.http_status,
        "outcome": attempt.outcome,
        "errorCode": attempt.error_code,
        "errorMessage": attempt.error_message,
    }


def charge_detail_doc(charge: Charge) -> dict[str, Any]:
    """``charge_doc`` plus the rest of the row and ``calls``: every call made to Toss."""
    return {
        **charge_doc(charge),
        "orderName": charge.order_name,
        "taxFreeAmount": charge.tax_free_amount,
        "source": charge.source,
        "declineCount": charge.decline_count,
        "nextAttemptAt": iso(charge.next_attempt_at),
        "waitingForCard": charge.waiting_for_card,
        "approvedAt": iso(charge.approved_at),
        "receiptUrl": charge.receipt_url,
        "failureMessage": charge.failure_message,
        "createdAt": iso(charge.created_at),
        "updatedAt": iso(charge.updated_at),
        "calls": [attempt_doc(a) for a in charge.attempts],
    }


def card_doc(key: BillingKey, customer_key: str) -> dict[str, Any]:
    """A registered card, never its billing key."""
    return {
        "customerKey": customer_key,
        "cardNumberMasked": key.card_number_masked,
        "cardCompany": key.card_company,
        "cardType": key.card_type,
        "billingKeyId": key.id,
    }
