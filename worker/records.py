"""The charge worker's database steps, each one short transaction (never open during HTTP).

- ``claim``: the conditional UPDATE that makes one worker the only one acting on a charge.
- ``load_snapshot``: what the state machine needs, read once after the claim.
- ``start_attempt`` / ``finish_attempt`` / ``settle``: the attempt log written before and after
  each call, and the charge (+ subscription) update written together with the attempt's end.

The claim's ``lease_expires_at`` doubles as a fencing token: every later write checks that the
charge is still PROCESSING with *our* lease, so a worker that stalled past its lease (and whose
charge another worker took over) cannot overwrite the newer state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from models import (
    AttemptOutcome,
    BillingKey,
    BillingKeyStatus,
    CallKind,
    Charge,
    ChargeAttempt,
    ChargeStatus,
    Customer,
    Subscription,
    SubscriptionStatus,
)
from scheduler.cycles import next_cycle_at
from worker.deps import Deps

__all__ = [
    "LastCall",
    "Snapshot",
    "SubscriptionChange",
    "lease_seconds",
    "claim",
    "current_status",
    "load_snapshot",
    "start_attempt",
    "finish_attempt",
    "settle",
]


def lease_seconds(deps: Deps) -> float:
    """Long enough for one lookup and one charge call with their timeouts, plus a margin."""
    s = deps.settings
    return (
        2 * s.toss_connect_timeout_seconds
        + s.toss_read_timeout_seconds
        + s.toss_charge_read_timeout_seconds
        + s.lease_margin_seconds
    )


@dataclass(frozen=True)
class LastCall:
    call: str
    number: int
    outcome: str
    http_status: int | None


@dataclass(frozen=True)
class Snapshot:
    charge_id: int
    subscription_id: int
    customer_id: int
    customer_key: str
    order_id: str
    order_name: str
    amount: int
    tax_free_amount: int
    attempt_count: int
    decline_count: int
    reconcile_count: int
    waiting_for_card: bool
    failure_code: str | None
    subscription_status: str
    #: The customer's newest ACTIVE billing key, still encrypted (decrypted only in memory).
    billing_key_encrypted: str | None
    last_call: LastCall | None  #: latest attempt row of any kind
    last_charge_call: LastCall | None  #: latest CHARGE row
    transient_streak: int  #: trailing CHARGE rows with outcome TRANSIENT
    first_failure_at: datetime | None  #: earliest DECLINED row
    token: datetime


@dataclass(frozen=True)
class SubscriptionChange:
    """Move the subscription to ``to`` only if it is currently in ``when``."""

    when: tuple[str, ...]
    to: str
    clear_next_charge_at: bool = False
    #: Reschedule from the first cycle after now if the subscription had none (UNPAID).
    resume_schedule: bool = False


def claim(deps: Deps, charge_id: int, now: datetime, *, reconcile: bool) -> Snapshot | None:
    """Make this worker the only one acting on the charge, or return None.

    Charge task: PENDING; RETRY_SCHEDULED/UNKNOWN whose next_attempt_at is due; PROCESSING
    whose lease expired (its worker died). Reconcile task: any UNKNOWN (a lookup is cheap and
    an operator may ask for it early). Returns the claimed charge's snapshot, read in the same
    transaction (one checkout and commit fewer per charge than claiming, then reading).
    """
    token = now + timedelta(seconds=lease_seconds(deps))
    with deps.session_factory() as session, session.begin():
        status = session.scalar(select(Charge.status).where(Charge.id == charge_id))
        if status is None:
            return None
        if reconcile:
            claimable: Any = Charge.status == ChargeStatus.UNKNOWN
        else:
            due = or_(Charge.next_attempt_at.is_(None), Charge.next_attempt_at <= now)
            claimable = or_(
                Charge.status == ChargeStatus.PENDING,
                and_(Charge.status.in_([ChargeStatus.RETRY_SCHEDULED, ChargeStatus.UNKNOWN]), due),
                and_(Charge.status == ChargeStatus.PROCESSING, Charge.lease_expires_at < now),
            )
        # `status == observed` makes the read and the write one atomic step: on PostgreSQL a
        # concurrent claimer blocks on the row lock, then re-checks and finds PROCESSING.
        result = session.execute(
            update(Charge)
            .where(Charge.id == charge_id, Charge.status == status, claimable)
            .values(status=ChargeStatus.PROCESSING, lease_expires_at=token, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return _read_snapshot(session, charge_id, token)


def current_status(deps: Deps, charge_id: int) -> str | None:
    with deps.session_factory() as session:
        return session.scalar(select(Charge.status).where(Charge.id == charge_id))


def _last(rows: Sequence[Any]) -> LastCall | None:
    if not rows:
        return None
    r = rows[-1]
    return LastCall(call=r.call, number=r.number, outcome=r.outcome, http_status=r.http_status)


_ACTIVE_KEY = (
    select(BillingKey.billing_key_encrypted)
    .where(BillingKey.customer_id == Customer.id, BillingKey.status == BillingKeyStatus.ACTIVE)
    .order_by(BillingKey.created_at.desc(), BillingKey.id.desc())
    .limit(1)
    .correlate(Customer)
    .scalar_subquery()
)

#: The charge with its subscription, customer and card: one round trip, plain rows (this runs
#: for every charge, and loading three ORM objects cost more CPU than the HTTP call).
_SNAPSHOT = (
    select(
        Charge.id,
        Charge.order_id,
        Charge.order_name,
        Charge.amount,
        Charge.tax_free_amount,
        Charge.attempt_count,
        Charge.decline_count,
        Charge.reconcile_count,
        Charge.waiting_for_card,
        Charge.failure_code,
        Subscription.id.label("subscription_id"),
        Subscription.status.label("subscription_status"),
        Customer.id.label("customer_id"),
        Customer.customer_key,
        _ACTIVE_KEY.label("billing_key_encrypted"),
    )
    .join(Subscription, Subscription.id == Charge.subscription_id)
    .join(Customer, Customer.id == Subscription.customer_id)
    .where(Charge.id == bindparam("charge_id"))
)
_ATTEMPTS = (
    select(
        ChargeAttempt.call,
        ChargeAttempt.number,
        ChargeAttempt.outcome,
        ChargeAttempt.http_status,
        ChargeAttempt.started_at,
        ChargeAttempt.finished_at,
    )
    .where(ChargeAttempt.charge_id == bindparam("charge_id"))
    .order_by(ChargeAttempt.id)
)


def load_snapshot(deps: Deps, charge_id: int, token: datetime) -> Snapshot:
    with deps.session_factory() as session:
        return _read_snapshot(session, charge_id, token)


def _read_snapshot(session: Session, charge_id: int, token: datetime) -> Snapshot:
    row = session.execute(_SNAPSHOT, {"charge_id": charge_id}).one()
    rows = session.execute(_ATTEMPTS, {"charge_id": charge_id}).all()
    charges = [r for r in rows if r.call == CallKind.CHARGE]
    streak = 0
    for r in reversed(charges):
        if r.outcome != AttemptOutcome.TRANSIENT:
            break
        streak += 1
    declined = [r.finished_at or r.started_at for r in rows if r.outcome == AttemptOutcome.DECLINED]
    return Snapshot(
        charge_id=row.id,
        subscription_id=row.subscription_id,
        customer_id=row.customer_id,
        customer_key=row.customer_key,
        order_id=row.order_id,
        order_name=row.order_name,
        amount=row.amount,
        tax_free_amount=row.tax_free_amount,
        attempt_count=row.attempt_count,
        decline_count=row.decline_count,
        reconcile_count=row.reconcile_count,
        waiting_for_card=row.waiting_for_card,
        failure_code=row.failure_code,
        subscription_status=row.subscription_status,
        billing_key_encrypted=row.billing_key_encrypted,
        last_call=_last(rows),
        last_charge_call=_last(charges),
        transient_streak=streak,
        first_failure_at=min(declined) if declined else None,
        token=token,
    )


def _fence(snap: Snapshot) -> Any:
    return and_(
        Charge.id == snap.charge_id,
        Charge.status == ChargeStatus.PROCESSING,
        Charge.lease_expires_at == snap.token,
    )


def start_attempt(
    deps: Deps,
    snap: Snapshot,
    *,
    call: CallKind,
    number: int,
    idempotency_key: str | None,
    amount: int | None,
    now: datetime,
) -> int | None:
    """Record a call before making it (outcome STARTED). Returns the row id, or None when the
    lease was lost (then the caller must not call Toss)."""
    with deps.session_factory() as session, session.begin():
        values: dict[str, Any] = {"updated_at": now}
        if call == CallKind.CHARGE:
            values["attempt_count"] = number
        fenced = session.execute(
            update(Charge).where(_fence(snap)).values(**values)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if fenced.rowcount != 1:  # type: ignore[attr-defined]
            return None
        # Core INSERT ... RETURNING: no ORM unit of work on the hot path.
        return int(
            session.execute(
                insert(ChargeAttempt).returning(ChargeAttempt.id),
                {
                    "charge_id": snap.charge_id, "call": call, "number": number,
                    "idempotency_key": idempotency_key, "amount": amount, "started_at": now,
                    "outcome": AttemptOutcome.STARTED,
                },
            ).scalar_one()
        )  # fmt: skip


def _finish(session: Any, attempt_id: int, now: datetime, fields: dict[str, Any]) -> None:
    session.execute(
        update(ChargeAttempt)
        .where(ChargeAttempt.id == attempt_id)
        .values(finished_at=now, **fields)
        .execution_options(synchronize_session=False)
    )


def finish_attempt(deps: Deps, attempt_id: int, now: datetime, fields: dict[str, Any]) -> None:
    """Complete an attempt row without touching the charge (e.g. a lookup answered 404)."""
    with deps.session_factory() as session, session.begin():
        _finish(session, attempt_id, now, fields)


def settle(
    deps: Deps,
    snap: Snapshot,
    *,
    now: datetime,
    attempt_id: int | None,
    attempt_fields: dict[str, Any],
    charge_fields: dict[str, Any],
    subscription: SubscriptionChange | None = None,
) -> bool:
    """In ONE transaction: finish the attempt row, update the charge (releasing the lease) and
    maybe the subscription. False when the lease was lost: the attempt row is still completed
    (it is history), the charge and subscription are left to the worker that holds it now."""
    with deps.session_factory() as session, session.begin():
        if attempt_id is not None:
            _finish(session, attempt_id, now, attempt_fields)
        result = session.execute(
            update(Charge).where(_fence(snap))
            .values(lease_expires_at=None, updated_at=now, **charge_fields)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        # Skip the (conditional, usually no-op) subscription UPDATE when the snapshot says it
        # cannot apply: an ACTIVE subscription's DONE charge is the common case. The change
        # is still conditional on the current status when it does run.
        if subscription is not None and snap.subscription_status in subscription.when:
            values: dict[str, Any] = {"status": subscription.to, "updated_at": now}
            if subscription.clear_next_charge_at:
                values["next_charge_at"] = None
            if (
                subscription.resume_schedule
                and snap.subscription_status == SubscriptionStatus.UNPAID
            ):
                # Only then: a read-for-update on every DONE charge would cost a round trip.
                _resume_schedule(session, snap.subscription_id, subscription.when, now)
            session.execute(
                update(Subscription)
                .where(
                    Subscription.id == snap.subscription_id,
                    Subscription.status.in_(subscription.when),
                )
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    return True


def _resume_schedule(session: Session, sub_id: int, when: tuple[str, ...], now: datetime) -> None:
    """An UNPAID subscription whose charge was paid after all (operator retry, new card) is
    scheduled again from its first cycle after now; missed cycles are not charged."""
    sub = session.get(Subscription, sub_id, with_for_update=True)
    if sub is not None and sub.status in when and sub.next_charge_at is None:
        sub.next_charge_at = next_cycle_at(sub.cron, sub.timezone, now)
