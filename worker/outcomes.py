"""How each answer from Toss settles a charge: status, counters, next_attempt_at, subscription.

One function per outcome; each writes the attempt row's end and the charge (and maybe the
subscription) in one transaction via ``records.settle`` and logs one INFO line. The table in
docs/worker.md is the same rules in prose.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta
from typing import Any

from models import ChargeStatus, SubscriptionStatus
from toss import ErrorKind, Payment
from worker import dunning
from worker.deps import Deps
from worker.records import Snapshot, SubscriptionChange, settle
from worker.retry_policy import TRANSIENT_BASE_SECONDS, TRANSIENT_CAP_SECONDS, backoff_seconds

__all__ = [
    "settle_done",
    "settle_decline",
    "settle_transient",
    "settle_unknown",
    "settle_lookup_failed",
    "settle_setup",
    "settle_invalid",
    "settle_final",
    "settle_reschedule",
    "log_outcome",
]

logger = logging.getLogger("worker.billing")

#: Jitter source for transient backoff (spreads a burst of 429s); tests read bounds only.
_JITTER = random.Random()

_DUNNING_FROM = (SubscriptionStatus.ACTIVE,)
_UNPAID_FROM = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def log_outcome(
    snap: Snapshot, *, attempt: int, outcome: str, code: str | None, next_at: datetime | None
) -> None:
    """The one INFO line per charge outcome (key=value; no billing key, card or secret)."""
    logger.info(
        "charge_id=%d subscription_id=%d amount=%d attempt=%d outcome=%s code=%s "
        "next_attempt_at=%s",
        snap.charge_id, snap.subscription_id, snap.amount, attempt, outcome, code or "-",
        next_at.isoformat() if next_at else "-",
    )  # fmt: skip


def _settle(
    deps: Deps,
    snap: Snapshot,
    *,
    now: datetime,
    attempt_id: int | None,
    attempt_fields: dict[str, Any],
    charge_fields: dict[str, Any],
    subscription: SubscriptionChange | None,
    outcome: str,
    attempt: int,
) -> str:
    ok = settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=charge_fields, subscription=subscription,
    )  # fmt: skip
    if not ok:
        logger.warning(
            "charge_id=%d lease lost before settling outcome=%s: another worker holds it",
            snap.charge_id, outcome,
        )  # fmt: skip
        return "BUSY"
    log_outcome(
        snap, attempt=attempt, outcome=outcome, code=charge_fields.get("failure_code"),
        next_at=charge_fields.get("next_attempt_at"),
    )  # fmt: skip
    return outcome


def settle_done(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], payment: Payment, attempt: int,
) -> str:  # fmt: skip
    """Toss approved (or a lookup found the approval): DONE; a PAST_DUE subscription recovers."""
    if payment.total_amount != snap.amount:
        logger.warning(
            "charge_id=%d approved amount=%d differs from charge amount=%d",
            snap.charge_id, payment.total_amount, snap.amount,
        )  # fmt: skip
    charge_fields = {
        "status": ChargeStatus.DONE, "payment_key": payment.payment_key,
        "approved_at": payment.approved_at, "receipt_url": payment.receipt_url,
        "failure_code": None, "failure_message": None, "next_attempt_at": None,
        "waiting_for_card": False, "reconcile_count": 0,
    }  # fmt: skip
    # An UNPAID subscription (retries exhausted) whose charge an operator retried successfully
    # is paid up: ACTIVE again, scheduled from its next cycle.
    recover = SubscriptionChange(
        when=(SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID),
        to=SubscriptionStatus.ACTIVE,
        resume_schedule=True,
    )
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=charge_fields, subscription=recover, outcome="DONE", attempt=attempt,
    )  # fmt: skip


def settle_decline(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], kind: ErrorKind, code: str, message: str | None,
    daily_limit: bool, attempt: int,
) -> str:  # fmt: skip
    """A card decline: spends one dunning step. Soft: retry on the schedule. Hard: wait for a
    new card until the deadline. Exhausted: FAILED and the subscription UNPAID."""
    declines = snap.decline_count + 1
    first = snap.first_failure_at or now
    schedule = deps.settings.retry_schedule_seconds
    waiting = kind is ErrorKind.HARD_DECLINE
    if waiting:
        deadline = dunning.card_deadline(first, schedule)
        exhausted = dunning.is_exhausted(declines, schedule) or deadline <= now
        at: datetime | None = None if exhausted else deadline
    else:
        at = dunning.soft_decline_retry_at(
            first_failure_at=first, decline_count=declines, schedule_seconds=schedule,
            now=now, daily_limit=daily_limit,
        )  # fmt: skip
    fields: dict[str, Any] = {
        "decline_count": declines, "failure_code": code, "failure_message": message,
        "reconcile_count": 0,
    }  # fmt: skip
    if at is None:
        fields.update(status=ChargeStatus.FAILED, next_attempt_at=None, waiting_for_card=False)
        sub = SubscriptionChange(_UNPAID_FROM, SubscriptionStatus.UNPAID, clear_next_charge_at=True)
        outcome = "FAILED"
    else:
        fields.update(status=ChargeStatus.RETRY_SCHEDULED, next_attempt_at=at,
                      waiting_for_card=waiting)  # fmt: skip
        sub = SubscriptionChange(_DUNNING_FROM, SubscriptionStatus.PAST_DUE)
        outcome = "RETRY_SCHEDULED"
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=fields, subscription=sub, outcome=outcome, attempt=attempt,
    )  # fmt: skip


def settle_transient(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], code: str | None, attempt: int,
) -> str:  # fmt: skip
    """Nothing reached Toss (or it refused before processing): retry in seconds, no decline."""
    delay = backoff_seconds(
        snap.transient_streak + 1, base=TRANSIENT_BASE_SECONDS, cap=TRANSIENT_CAP_SECONDS,
        jitter=True, rng=_JITTER,
    )  # fmt: skip
    fields = {
        "status": ChargeStatus.RETRY_SCHEDULED, "next_attempt_at": now + timedelta(seconds=delay),
        "failure_code": code,
    }  # fmt: skip
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=fields, subscription=None, outcome="RETRY_SCHEDULED", attempt=attempt,
    )  # fmt: skip


def settle_unknown(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], code: str | None, attempt: int,
) -> str:  # fmt: skip
    """The charge may exist: UNKNOWN, first lookup after the ladder's first rung."""
    return _stay_unknown(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        rung=0, extra={"failure_code": code}, attempt=attempt,
    )  # fmt: skip


def settle_lookup_failed(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], attempt: int,
) -> str:  # fmt: skip
    """The lookup could not tell: stay UNKNOWN and climb one rung of the ladder."""
    return _stay_unknown(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        rung=snap.reconcile_count + 1, extra={}, attempt=attempt,
    )  # fmt: skip


def _stay_unknown(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], rung: int, extra: dict[str, Any], attempt: int,
) -> str:  # fmt: skip
    delay = dunning.reconcile_delay_seconds(rung, deps.settings.reconcile_schedule_seconds)
    fields = {
        "status": ChargeStatus.UNKNOWN, "reconcile_count": rung,
        "next_attempt_at": now + timedelta(seconds=delay), **extra,
    }  # fmt: skip
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=fields, subscription=None, outcome="UNKNOWN", attempt=attempt,
    )  # fmt: skip


def settle_setup(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], code: str, attempt: int,
) -> str:  # fmt: skip
    """Our key/contract is wrong: nobody is marked PAST_DUE; the breaker sets the pause."""
    at = deps.breaker.record_setup_error(now, code)
    fields = {"status": ChargeStatus.RETRY_SCHEDULED, "next_attempt_at": at, "failure_code": code}
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=fields, subscription=None, outcome="RETRY_SCHEDULED", attempt=attempt,
    )  # fmt: skip


def settle_invalid(
    deps: Deps, snap: Snapshot, *, now: datetime, attempt_id: int | None,
    attempt_fields: dict[str, Any], code: str, message: str | None, attempt: int,
) -> str:  # fmt: skip
    """Toss (or the client) refused our request as malformed: a bug; FAILED, operator looks."""
    logger.error(
        "charge_id=%d order_id=%s invalid request code=%s: not retried, needs an operator",
        snap.charge_id, snap.order_id, code,
    )  # fmt: skip
    fields = {
        "status": ChargeStatus.FAILED, "next_attempt_at": None, "failure_code": code,
        "failure_message": message,
    }  # fmt: skip
    sub = SubscriptionChange(_DUNNING_FROM, SubscriptionStatus.PAST_DUE)
    return _settle(
        deps, snap, now=now, attempt_id=attempt_id, attempt_fields=attempt_fields,
        charge_fields=fields, subscription=sub, outcome="FAILED", attempt=attempt,
    )  # fmt: skip


def settle_final(
    deps: Deps, snap: Snapshot, *, now: datetime, status: ChargeStatus, code: str,
    subscription: SubscriptionChange | None,
) -> str:  # fmt: skip
    """End the charge without calling Toss (canceled/paused subscription, card deadline)."""
    fields = {
        "status": status, "next_attempt_at": None, "failure_code": code,
        "waiting_for_card": False,
    }  # fmt: skip
    return _settle(
        deps, snap, now=now, attempt_id=None, attempt_fields={}, charge_fields=fields,
        subscription=subscription, outcome=str(status), attempt=snap.attempt_count,
    )  # fmt: skip


def settle_reschedule(
    deps: Deps, snap: Snapshot, *, now: datetime, at: datetime, code: str | None = None
) -> str:
    """Put the charge back without a call (the setup breaker is open, or our own configuration
    cannot decrypt the billing key); nobody is marked PAST_DUE."""
    fields: dict[str, Any] = {"status": ChargeStatus.RETRY_SCHEDULED, "next_attempt_at": at}
    if code is not None:
        fields["failure_code"] = code
    return _settle(
        deps, snap, now=now, attempt_id=None, attempt_fields={}, charge_fields=fields,
        subscription=None, outcome="RETRY_SCHEDULED", attempt=snap.attempt_count,
    )  # fmt: skip
