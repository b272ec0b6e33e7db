"""Reconciliation: ask Toss what became of an orderId before anything is re-sent.

Used whenever the last call's fate is unknown: a charge that timed out, was reset, got a 5xx
or an "unknown yet" code (charge UNKNOWN), or an attempt row left STARTED by a crashed worker.
Each lookup is itself logged as a ChargeAttempt(call=LOOKUP), written before and after.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from models import AttemptOutcome, CallKind
from toss import ErrorKind, Payment, TossAPIError, TossError, classify
from worker.deps import Deps
from worker.records import Snapshot, start_attempt
from worker.sanitize import sanitize_response

__all__ = ["LookupVerdict", "LookupResult", "lookup_order", "CHARGED_STATUSES"]

#: Payment statuses meaning the order was charged (refunds come later and do not undo that).
CHARGED_STATUSES = frozenset({"DONE", "CANCELED", "PARTIAL_CANCELED"})


class LookupVerdict(enum.Enum):
    CHARGED = "CHARGED"  #: Toss has an approved payment for the orderId: never charge again
    DECLINED = "DECLINED"  #: Toss recorded a failed payment; ``decline_code`` says why
    NOT_FOUND = "NOT_FOUND"  #: nothing was charged: safe to send (same orderId)
    FAILED = "FAILED"  #: the lookup itself failed or was inconclusive: stay UNKNOWN
    LOST_LEASE = "LOST_LEASE"  #: another worker took the charge over; do nothing


@dataclass(frozen=True)
class LookupResult:
    verdict: LookupVerdict
    attempt_id: int | None
    #: Fields for the LOOKUP attempt row's completion (the caller writes them).
    attempt_fields: dict[str, object]
    payment: Payment | None = None
    decline_code: str | None = None
    decline_message: str | None = None
    decline_kind: ErrorKind | None = None


def lookup_order(deps: Deps, snap: Snapshot) -> LookupResult:
    """GET /v1/payments/orders/{orderId}, recorded as a LOOKUP attempt (STARTED first).

    The attempt row is completed by the caller, in the same transaction as the charge update.
    """
    now = deps.clock.now()
    attempt_id = start_attempt(
        deps, snap, call=CallKind.LOOKUP, number=snap.attempt_count,
        idempotency_key=None, amount=None, now=now,
    )  # fmt: skip
    if attempt_id is None:
        return LookupResult(LookupVerdict.LOST_LEASE, None, {})
    try:
        payment = deps.toss.get_payment_by_order_id(snap.order_id)
    except TossAPIError as exc:
        fields: dict[str, object] = {
            "http_status": exc.http_status, "error_kind": exc.kind.value,
            "error_code": exc.code, "error_message": exc.message,
            "trace_id": exc.trace_id, "response": sanitize_response(exc.body),
        }  # fmt: skip
        if exc.code == "NOT_FOUND_PAYMENT":
            fields["outcome"] = AttemptOutcome.NOT_FOUND
            return LookupResult(LookupVerdict.NOT_FOUND, attempt_id, fields)
        fields["outcome"] = AttemptOutcome.UNKNOWN
        return LookupResult(LookupVerdict.FAILED, attempt_id, fields)
    except TossError as exc:
        fields = {
            "outcome": AttemptOutcome.UNKNOWN, "error_kind": exc.kind.value,
            "error_message": exc.message,
        }  # fmt: skip
        return LookupResult(LookupVerdict.FAILED, attempt_id, fields)
    return _judge(payment, attempt_id)


def _judge(payment: Payment, attempt_id: int) -> LookupResult:
    fields: dict[str, object] = {"http_status": 200, "response": sanitize_response(payment.raw)}
    if payment.status in CHARGED_STATUSES:
        fields["outcome"] = AttemptOutcome.DONE
        return LookupResult(LookupVerdict.CHARGED, attempt_id, fields, payment=payment)
    if payment.failure is not None:
        # Toss's ABORTED payment with `failure`: the code is read as the call's own error
        # would have been (a decline, or whatever the catalogue says).
        kind = classify(payment.failure.code, 400)
        fields.update(
            outcome=AttemptOutcome.DECLINED, error_kind=kind.value,
            error_code=payment.failure.code, error_message=payment.failure.message,
        )  # fmt: skip
        return LookupResult(
            LookupVerdict.DECLINED, attempt_id, fields, payment=payment,
            decline_code=payment.failure.code, decline_message=payment.failure.message,
            decline_kind=kind,
        )  # fmt: skip
    # READY / IN_PROGRESS / anything new: not settled yet, look again later.
    fields["outcome"] = AttemptOutcome.UNKNOWN
    fields["error_code"] = f"PAYMENT_{payment.status}"
    return LookupResult(LookupVerdict.FAILED, attempt_id, fields, payment=payment)
