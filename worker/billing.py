"""The charge state machine: ``run_charge`` and its siblings, plain functions of ``Deps``.

One run: claim the row (conditional UPDATE) -> reconcile first if the last call's fate is
unknown -> check subscription, card and setup breaker -> record the attempt (STARTED) ->
call Toss with no transaction open -> settle attempt + charge (+ subscription) in one
transaction. Rules and the outcome table: docs/worker.md.

Attempt identity (STYLE G3): the Idempotency-Key is ``{order_id}-a{n}``. A NEW attempt number
(attempt_count + 1) follows any definitive answer from Toss (decline, 429/transient refusal
with a response, setup or invalid error, 5xx/PROVIDER_ERROR-type answers once a lookup said
NOT_FOUND, a failed payment found by lookup). The SAME number and key, verbatim, follow a
send that got no answer (timeout, reset, refused connection, a crash mid-call) or a 409
IDEMPOTENT_REQUEST_PROCESSING: Toss replays the first response for a repeated key, so a
re-send can never charge twice, while a deliberate new attempt must not just replay a decline.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from models import (
    AttemptOutcome,
    CallKind,
    Charge,
    ChargeStatus,
    Subscription,
    SubscriptionStatus,
    order_id_for,
)
from models.crypto import CipherError
from toss import ErrorKind, TossAPIError, TossError
from worker import outcomes as out
from worker.deps import Deps
from worker.reconcile import LookupVerdict, lookup_order
from worker.records import (
    AttemptPlan,
    Snapshot,
    SubscriptionChange,
    claim,
    current_status,
    finish_attempt,
    load_snapshot,
    start_attempt,
)
from worker.retry_policy import idempotency_key_for, key_is_spent
from worker.sanitize import sanitize_response

__all__ = [
    "run_charge",
    "run_reconcile",
    "retry_charge_now",
    "charge_subscription_now",
    "manual_order_id",
    "next_attempt_number",
]

logger = logging.getLogger(__name__)

#: How long a charge whose billing key cannot be decrypted waits before it is tried again.
DECRYPT_RETRY_DELAY = timedelta(minutes=10)

_NOT_SCHEDULABLE = (SubscriptionStatus.CANCELED, SubscriptionStatus.PAUSED)
_UNPAID_FROM = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE)


def run_charge(deps: Deps, charge_id: int) -> str:
    """Charge one Charge row once. Safe to call twice or concurrently: only the worker whose
    claim succeeds talks to Toss; the others return "BUSY" (or the settled status).

    Returns the outcome: "DONE", "RETRY_SCHEDULED", "UNKNOWN", "FAILED", "SKIPPED", "BUSY",
    or the current status when the charge is not due ("RETRY_SCHEDULED", ...). Declines are
    outcomes, never exceptions; unexpected errors (database, cipher) propagate and the
    charge's lease expiry hands it to the next run.
    """
    return _run(deps, charge_id, reconcile=False)


def run_reconcile(deps: Deps, charge_id: int) -> str:
    """Look an UNKNOWN charge up by orderId now (whatever its next_attempt_at) and settle it:
    found -> DONE; not found -> re-send in the same run; lookup failed -> next ladder rung."""
    return _run(deps, charge_id, reconcile=True)


def retry_charge_now(deps: Deps, charge_id: int) -> str:
    """Operator retry of a RETRY_SCHEDULED (incl. waiting for a card) or FAILED charge, now.

    Same orderId; a new attempt number whenever the previous key was answered. A charge that
    is UNKNOWN, PENDING, PROCESSING, DONE or SKIPPED is refused ("REFUSED"): an unknown
    outcome must be reconciled, never re-sent blindly.
    """
    now = deps.clock.now()
    with deps.session_factory() as session, session.begin():
        result = session.execute(
            update(Charge)
            .where(
                Charge.id == charge_id,
                Charge.status.in_([ChargeStatus.RETRY_SCHEDULED, ChargeStatus.FAILED]),
            )
            .values(
                status=ChargeStatus.RETRY_SCHEDULED,
                next_attempt_at=now,
                waiting_for_card=False,
                updated_at=now,
            )  # fmt: skip
            .execution_options(synchronize_session=False)
        )
        reopened = result.rowcount == 1  # type: ignore[attr-defined]
    if not reopened:
        logger.warning(
            "charge_id=%d retry refused: status=%s", charge_id, current_status(deps, charge_id)
        )
        return "REFUSED"
    return run_charge(deps, charge_id)


def charge_subscription_now(
    deps: Deps, subscription_id: int, *, request_id: str | None = None
) -> str:
    """Create an off-cycle MANUAL charge (amount read from the subscription now) and run it.
    Refused for CANCELED and PAUSED subscriptions.

    ``request_id`` is the identity of the request (the Celery task id, which a redelivery of the
    same message keeps): the charge's orderId is derived from it, so a message redelivered after
    a worker crash finds and finishes the same charge instead of charging the card again. Two
    separate requests (two ``celery call``s) are two charges, as asked.
    """
    now = deps.clock.now()
    cycle_at = now.replace(microsecond=0)
    with deps.session_factory() as session, session.begin():
        sub = session.get(Subscription, subscription_id)
        status = sub.status if sub else "MISSING"
        if sub is not None and status not in _NOT_SCHEDULABLE:
            order_id = manual_order_id(sub.id, request_id) if request_id else None
            charge = Charge(
                subscription_id=sub.id, cycle_at=cycle_at,
                order_id=order_id or order_id_for(sub.id, cycle_at), order_name=sub.order_name,
                amount=sub.amount, tax_free_amount=sub.tax_free_amount, source="MANUAL",
                status=ChargeStatus.PENDING, created_at=now, updated_at=now,
            )  # fmt: skip
    if sub is None or status in _NOT_SCHEDULABLE:
        logger.warning(
            "subscription_id=%d off-cycle charge refused: status=%s", subscription_id, status
        )
        return "REFUSED"
    try:
        with deps.session_factory() as session, session.begin():
            session.add(charge)
            session.flush()
            charge_id = charge.id
    except IntegrityError:
        # This request's charge exists already (a redelivery), or, without a request id, a
        # second delivery within the same second: finish that charge, never a new one.
        with deps.session_factory() as session:
            charge_id = session.scalars(
                select(Charge.id).where(
                    (Charge.order_id == charge.order_id)
                    | ((Charge.subscription_id == subscription_id) & (Charge.cycle_at == cycle_at))
                )
            ).first()  # type: ignore[assignment]
        if charge_id is None:
            raise
    logger.info("subscription_id=%d off-cycle charge_id=%d", subscription_id, charge_id)
    return run_charge(deps, charge_id)


def manual_order_id(subscription_id: int, request_id: str) -> str:
    """``bb-<sub>-m<20 hex of the request id>``: stable for one request, at most 40 chars."""
    digest = hashlib.sha256(request_id.encode()).hexdigest()[:20]
    return f"bb-{subscription_id}-m{digest}"


# ---- the run -------------------------------------------------------------------------------


def _run(deps: Deps, charge_id: int, *, reconcile: bool) -> str:
    ready = _Ready(deps, deps.clock.now())
    try:
        claimed = claim(deps, charge_id, ready.now, reconcile=reconcile, plan=ready.plan)
    except BaseException:
        ready.release()
        raise
    snap = claimed.snap
    if snap is None:
        ready.release()
        if claimed.status is None:
            logger.warning("charge_id=%d not found", charge_id)
            return "MISSING"
        return "BUSY" if claimed.status == ChargeStatus.PROCESSING else str(claimed.status)
    if claimed.attempt_id is not None:
        # The common path: claimed and the attempt recorded in one transaction; call Toss.
        assert ready.billing_key is not None and ready.attempt is not None
        return _call(deps, snap, ready.billing_key, ready.attempt, claimed.attempt_id)
    if _needs_lookup(snap):
        settled = _reconcile_first(deps, snap)
        if settled is not None:
            return settled
        snap = load_snapshot(deps, charge_id, snap.token)
    return _proceed(deps, snap)


class _Ready:
    """Decides, inside the claim's transaction, whether the charge can be sent right away:
    no lookup owed, subscription schedulable, card present and readable, setup breaker
    closed. Anything else returns no plan, and ``_proceed`` / ``_reconcile_first`` handle it
    after the claim (the rare paths keep their own transactions)."""

    def __init__(self, deps: Deps, now: datetime) -> None:
        self.deps = deps
        self.now = now
        self.billing_key: str | None = None
        self.attempt: AttemptPlan | None = None

    def plan(self, snap: Snapshot) -> AttemptPlan | None:
        if (
            _needs_lookup(snap)
            or snap.waiting_for_card
            or snap.subscription_status in _NOT_SCHEDULABLE
            or snap.billing_key_encrypted is None
        ):
            return None
        try:
            billing_key = self.deps.cipher.decrypt(snap.billing_key_encrypted)
        except CipherError:
            return None  # _proceed logs it and reschedules the charge
        # Last: when it lets us through as the breaker's probe, the probe is ours.
        if self.deps.breaker.blocked_until(self.now) is not None:
            return None
        number = next_attempt_number(snap)
        self.billing_key = billing_key
        self.attempt = AttemptPlan(
            CallKind.CHARGE, number, idempotency_key_for(snap.order_id, number), snap.amount
        )
        return self.attempt

    def release(self) -> None:
        """The plan was made (maybe taking the breaker's probe) but never recorded."""
        if self.attempt is not None:
            self.deps.breaker.release_probe()
            self.attempt = None


def _needs_lookup(snap: Snapshot) -> bool:
    # The latest call's fate is unknown: a CHARGE that timed out / got a 5xx (UNKNOWN) or
    # whose worker died mid-call (STARTED), or a lookup that failed or died.
    last = snap.last_call
    return last is not None and last.outcome in (AttemptOutcome.STARTED, AttemptOutcome.UNKNOWN)


def next_attempt_number(snap: Snapshot) -> int:
    """The attempt number of the next CHARGE call (see the module docstring for the rule)."""
    last = snap.last_charge_call
    if last is None or snap.attempt_count == 0:
        return snap.attempt_count + 1
    lookup_declined = (
        snap.last_call is not None
        and snap.last_call.call == CallKind.LOOKUP
        and snap.last_call.outcome == AttemptOutcome.DECLINED
    )
    if lookup_declined or key_is_spent(outcome=last.outcome, http_status=last.http_status):
        return snap.attempt_count + 1
    return last.number


def _reconcile_first(deps: Deps, snap: Snapshot) -> str | None:
    """Settle from a lookup; None when nothing was charged and the run should go on."""
    res = lookup_order(deps, snap)
    now = deps.clock.now()
    common = {"now": now, "attempt_id": res.attempt_id, "attempt_fields": res.attempt_fields,
              "attempt": snap.attempt_count}  # fmt: skip
    if res.verdict is LookupVerdict.LOST_LEASE:
        return "BUSY"
    if res.verdict is LookupVerdict.CHARGED:
        assert res.payment is not None
        return out.settle_done(deps, snap, payment=res.payment, **common)  # type: ignore[arg-type]
    if res.verdict is LookupVerdict.FAILED:
        return out.settle_lookup_failed(deps, snap, **common)  # type: ignore[arg-type]
    if res.verdict is LookupVerdict.DECLINED and res.decline_kind in (
        ErrorKind.SOFT_DECLINE, ErrorKind.HARD_DECLINE,
    ):  # fmt: skip
        return out.settle_decline(
            deps, snap, kind=res.decline_kind, code=res.decline_code or "UNKNOWN_DECLINE",
            message=res.decline_message, daily_limit=False, **common,  # type: ignore[arg-type]
        )  # fmt: skip
    # NOT_FOUND, or a failed payment for another reason: nothing was charged; send.
    assert res.attempt_id is not None
    finish_attempt(deps, res.attempt_id, now, res.attempt_fields)
    return None


def _proceed(deps: Deps, snap: Snapshot) -> str:
    now = deps.clock.now()
    if snap.waiting_for_card:
        # Claimed only once next_attempt_at (the card deadline) passed with no new card.
        return out.settle_final(
            deps, snap, now=now, status=ChargeStatus.FAILED,
            code=snap.failure_code or "CARD_NOT_REPLACED",
            subscription=SubscriptionChange(
                _UNPAID_FROM, SubscriptionStatus.UNPAID, clear_next_charge_at=True
            ),
        )  # fmt: skip
    if snap.subscription_status in _NOT_SCHEDULABLE:
        never_tried = snap.attempt_count == 0
        return out.settle_final(
            deps, snap, now=now,
            status=ChargeStatus.SKIPPED if never_tried else ChargeStatus.FAILED,
            code=f"SUBSCRIPTION_{snap.subscription_status}", subscription=None,
        )  # fmt: skip
    encrypted = snap.billing_key_encrypted
    if encrypted is None:
        return out.settle_decline(
            deps, snap, now=now, attempt_id=None, attempt_fields={},
            kind=ErrorKind.HARD_DECLINE, code="NO_BILLING_KEY", message=None,
            daily_limit=False, attempt=snap.attempt_count,
        )  # fmt: skip
    try:
        billing_key = deps.cipher.decrypt(encrypted)
    except CipherError as exc:
        # Our configuration, not the customer's card: nobody goes PAST_DUE; the charge waits
        # (instead of failing the task and sitting PROCESSING until its lease expires).
        logger.error("charge_id=%d not sent: %s", snap.charge_id, exc)
        return out.settle_reschedule(
            deps, snap, now=now, at=now + DECRYPT_RETRY_DELAY, code="BILLING_KEY_UNREADABLE"
        )
    blocked_until = deps.breaker.blocked_until(now)
    if blocked_until is not None:
        return out.settle_reschedule(deps, snap, now=now, at=blocked_until)
    return _send(deps, snap, billing_key)


def _send(deps: Deps, snap: Snapshot, billing_key: str) -> str:
    number = next_attempt_number(snap)
    key = idempotency_key_for(snap.order_id, number)
    attempt_id = start_attempt(
        deps, snap, call=CallKind.CHARGE, number=number, idempotency_key=key,
        amount=snap.amount, now=deps.clock.now(),
    )  # fmt: skip
    if attempt_id is None:
        deps.breaker.release_probe()
        return "BUSY"
    plan = AttemptPlan(CallKind.CHARGE, number, key, snap.amount)
    return _call(deps, snap, billing_key, plan, attempt_id)


def _call(deps: Deps, snap: Snapshot, billing_key: str, plan: AttemptPlan, attempt_id: int) -> str:
    """Call Toss for a recorded (STARTED) attempt and settle what it answered."""
    number, key = plan.number, plan.idempotency_key
    try:
        payment = deps.toss.charge(
            billing_key=billing_key, customer_key=snap.customer_key, amount=snap.amount,
            order_id=snap.order_id, order_name=snap.order_name,
            tax_free_amount=snap.tax_free_amount, idempotency_key=key,
        )  # fmt: skip
    except TossError as exc:
        return _on_error(deps, snap, attempt_id, number, exc, billing_key)
    deps.breaker.record_ok()
    fields = {"outcome": AttemptOutcome.DONE, "http_status": 200,
              "response": sanitize_response(payment.raw, secrets=(billing_key,))}  # fmt: skip
    return out.settle_done(
        deps, snap, now=deps.clock.now(), attempt_id=attempt_id, attempt_fields=fields,
        payment=payment, attempt=number,
    )  # fmt: skip


#: Attempt outcome recorded for each error kind.
_ATTEMPT_OUTCOME = {
    ErrorKind.SOFT_DECLINE: AttemptOutcome.DECLINED,
    ErrorKind.HARD_DECLINE: AttemptOutcome.DECLINED,
    ErrorKind.TRANSIENT: AttemptOutcome.TRANSIENT,
    ErrorKind.UNKNOWN_OUTCOME: AttemptOutcome.UNKNOWN,
    ErrorKind.SETUP: AttemptOutcome.SETUP_ERROR,
    ErrorKind.INVALID_REQUEST: AttemptOutcome.INVALID,
}


def _on_error(
    deps: Deps, snap: Snapshot, attempt_id: int, number: int, exc: TossError, billing_key: str
) -> str:
    now = deps.clock.now()
    api = exc if isinstance(exc, TossAPIError) else None
    code = api.code if api else type(exc).__name__
    fields = {
        "outcome": _ATTEMPT_OUTCOME[exc.kind], "http_status": api.http_status if api else None,
        "error_kind": exc.kind.value, "error_code": code, "error_message": exc.message,
        "trace_id": api.trace_id if api else None,
        "response": sanitize_response(api.body, secrets=(billing_key,)) if api else None,
    }  # fmt: skip
    if exc.kind is not ErrorKind.SETUP:
        deps.breaker.record_ok()
    common = {"now": now, "attempt_id": attempt_id, "attempt_fields": fields, "attempt": number}
    kind = exc.kind
    if kind in (ErrorKind.SOFT_DECLINE, ErrorKind.HARD_DECLINE):
        return out.settle_decline(
            deps, snap, kind=kind, code=code, message=exc.message,
            daily_limit=exc.retry_not_before_next_day, **common,  # type: ignore[arg-type]
        )  # fmt: skip
    if kind is ErrorKind.TRANSIENT:
        return out.settle_transient(deps, snap, code=code, **common)  # type: ignore[arg-type]
    if kind is ErrorKind.UNKNOWN_OUTCOME:
        return out.settle_unknown(deps, snap, code=code, **common)  # type: ignore[arg-type]
    if kind is ErrorKind.SETUP:
        return out.settle_setup(deps, snap, code=code, **common)  # type: ignore[arg-type]
    return out.settle_invalid(
        deps, snap, code=code, message=exc.message, **common  # type: ignore[arg-type]
    )  # fmt: skip
