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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, insert, or_, select, update

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
from models.db import is_postgres
from scheduler.cycles import next_cycle_at
from worker.deps import Deps
from worker.rawsql import RawStatement

__all__ = [
    "AttemptPlan",
    "Claimed",
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

# Every step runs on a Core connection with statements built once, here: this code runs for
# every charge, and the ORM session rebuilt and re-coerced each statement per call (about
# 0.3 ms of CPU per statement against 0.08 ms this way; docs/benchmarks.md).
_charges = cast(Table, Charge.__table__)
_attempts = cast(Table, ChargeAttempt.__table__)
_subs = cast(Table, Subscription.__table__)
_customers = cast(Table, Customer.__table__)
_keys = cast(Table, BillingKey.__table__)


@contextmanager
def _transaction(deps: Deps, *, autocommit: bool = False) -> Iterator[Connection]:
    """One transaction, used through Core: the statements below need no unit of work.

    A session factory bound to the process's engine (production) gets a plain
    ``engine.begin()``: a Session's own bookkeeping around the same connection cost ~0.1 ms
    of CPU per transaction, two per charge. ``autocommit``: every statement the caller runs is
    atomic on its own and may commit on its own, so the connection runs in autocommit mode,
    without the BEGIN and COMMIT round trips (psycopg sends BEGIN as a round trip of its own).
    Any other binding (a test's savepoint connection) goes through the factory, in one
    transaction, so what it isolates stays isolated."""
    if deps.session_factory.kw.get("bind") is deps.engine:
        if autocommit:
            # The driver's own switch: SQLAlchemy's isolation_level="AUTOCOMMIT" option costs
            # three round trips of its own per checkout here (it reads and resets the level).
            with deps.engine.connect() as conn:
                driver = conn.connection.driver_connection
                driver.autocommit = True
                try:
                    yield conn
                finally:
                    driver.autocommit = False
            return
        with deps.engine.begin() as conn:
            yield conn
        return
    with deps.session_factory() as session, session.begin():
        yield session.connection()


@contextmanager
def _reading(deps: Deps) -> Iterator[Connection]:
    with deps.session_factory() as session:
        yield session.connection()


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


@dataclass(frozen=True)
class AttemptPlan:
    """A call to record (outcome STARTED) in the claim's own transaction."""

    call: CallKind
    number: int
    idempotency_key: str | None
    amount: int | None


@dataclass(frozen=True)
class Claimed:
    """What ``claim`` did: ``snap`` is None when the charge was not claimed (``status`` is then
    its current status, None for a missing charge); ``attempt_id`` is the STARTED attempt row
    of the plan, when one was recorded."""

    snap: Snapshot | None
    status: str | None
    attempt_id: int | None = None


_ACTIVE_KEY = (
    select(_keys.c.billing_key_encrypted)
    .where(_keys.c.customer_id == _customers.c.id, _keys.c.status == BillingKeyStatus.ACTIVE)
    .order_by(_keys.c.created_at.desc(), _keys.c.id.desc())
    .limit(1)
    .correlate(_customers)
    .scalar_subquery()
)

#: The charge with its subscription, customer and card: one round trip, plain rows (this runs
#: for every charge, and loading three ORM objects cost more CPU than the HTTP call).
_SNAPSHOT = (
    select(
        _charges.c.id,
        _charges.c.status,
        _charges.c.next_attempt_at,
        _charges.c.lease_expires_at,
        _charges.c.order_id,
        _charges.c.order_name,
        _charges.c.amount,
        _charges.c.tax_free_amount,
        _charges.c.attempt_count,
        _charges.c.decline_count,
        _charges.c.reconcile_count,
        _charges.c.waiting_for_card,
        _charges.c.failure_code,
        _subs.c.id.label("subscription_id"),
        _subs.c.status.label("subscription_status"),
        _customers.c.id.label("customer_id"),
        _customers.c.customer_key,
        _ACTIVE_KEY.label("billing_key_encrypted"),
    )
    .join(_subs, _subs.c.id == _charges.c.subscription_id)
    .join(_customers, _customers.c.id == _subs.c.customer_id)
    .where(_charges.c.id == bindparam("charge_id"))
)
_ATTEMPTS = (
    select(
        _attempts.c.call,
        _attempts.c.number,
        _attempts.c.outcome,
        _attempts.c.http_status,
        _attempts.c.started_at,
        _attempts.c.finished_at,
    )
    .where(_attempts.c.charge_id == bindparam("charge_id"))
    .order_by(_attempts.c.id)
)
_STATUS = select(_charges.c.status).where(_charges.c.id == bindparam("charge_id"))
_INSERT_ATTEMPT = insert(_attempts).returning(_attempts.c.id)
#: The fence: still PROCESSING with *our* lease. SET columns come from the parameters.
_FENCED = and_(
    _charges.c.id == bindparam("b_id"),
    _charges.c.status == ChargeStatus.PROCESSING,
    _charges.c.lease_expires_at == bindparam("b_token"),
)
_UPDATE_FENCED = update(_charges).where(_FENCED)
_UPDATE_ATTEMPT = update(_attempts).where(_attempts.c.id == bindparam("b_attempt_id"))

_RETRYABLE = (ChargeStatus.RETRY_SCHEDULED, ChargeStatus.UNKNOWN)

# PostgreSQL writes an attempt row and its charge's update as ONE statement (a data-modifying
# CTE), when the call starts (``_START_PG``) and when it settles (``_settle_pg``).
_ATTEMPT_COLUMNS = ("charge_id", "call", "number", "idempotency_key", "amount", "started_at",
                    "outcome")  # fmt: skip
#: The claim: ONE conditional UPDATE taking the lease, and the only statement of what is
#: claimable. Charge task: PENDING; RETRY_SCHEDULED/UNKNOWN whose next_attempt_at is due;
#: PROCESSING whose lease expired (its worker died). Reconcile task: any UNKNOWN (a lookup is
#: cheap and an operator may ask for it early). ``b_now`` is the worker's clock. Atomic on its
#: own: a concurrent claimer waits for the row lock, PostgreSQL re-checks the WHERE on the
#: committed row (PROCESSING, lease in the future) and it updates nothing.
_DUE_NOW = bindparam("b_now", type_=_charges.c.updated_at.type)
_CLAIMABLE = {
    False: or_(
        _charges.c.status == ChargeStatus.PENDING,
        and_(
            or_(*(_charges.c.status == s for s in _RETRYABLE)),
            or_(_charges.c.next_attempt_at.is_(None), _charges.c.next_attempt_at <= _DUE_NOW),
        ),
        and_(_charges.c.status == ChargeStatus.PROCESSING, _charges.c.lease_expires_at < _DUE_NOW),
    ),
    True: _charges.c.status == ChargeStatus.UNKNOWN,
}
_CLAIM = {
    reconcile: update(_charges)
    .where(_charges.c.id == bindparam("b_id"), claimable)
    .values(
        status=ChargeStatus.PROCESSING,
        lease_expires_at=bindparam("b_token"),
        updated_at=_DUE_NOW,
    )  # fmt: skip
    for reconcile, claimable in _CLAIMABLE.items()
}
#: PostgreSQL: the same UPDATE returns the snapshot (SQLite's RETURNING cannot name the
#: joined tables; there the snapshot is read after it, in the same BEGIN IMMEDIATE).
_CLAIM_PG = {
    reconcile: RawStatement(
        stmt.where(
            _subs.c.id == _charges.c.subscription_id, _customers.c.id == _subs.c.customer_id
        ).returning(*_SNAPSHOT.selected_columns)
    )
    for reconcile, stmt in _CLAIM.items()
}
#: The STARTED CHARGE attempt of a claimed charge and its new attempt_count, fenced by our
#: lease; returns the attempt id, or no row when the lease was lost.
_STARTED = (
    update(_charges)
    .where(_FENCED)
    .values(attempt_count=bindparam("b_count"))
    .returning(_charges.c.id)
    .cte("started")
)
_START_PG = RawStatement(
    insert(_attempts)
    .from_select(
        _ATTEMPT_COLUMNS,
        select(
            _STARTED.c.id,
            *(
                bindparam(f"a_{name}", type_=_attempts.c[name].type)
                for name in _ATTEMPT_COLUMNS[1:]
            ),
        ),
    )
    .returning(_attempts.c.id)
    .add_cte(_STARTED)
)


@lru_cache(maxsize=64)
def _settle_pg(attempt_keys: tuple[str, ...], charge_keys: tuple[str, ...]) -> RawStatement:
    """Finish the attempt row and update the fenced charge in one statement. The CTE's UPDATE
    runs whether or not the fence matches: the attempt row is history either way."""
    finished = (
        update(_attempts)
        .where(_attempts.c.id == bindparam("b_attempt_id"))
        .values({k: bindparam(f"a_{k}") for k in attempt_keys})
        .cte("finished")
    )
    return RawStatement(
        update(_charges)
        .where(_FENCED)
        .values({k: bindparam(f"c_{k}") for k in charge_keys})
        .add_cte(finished)
    )


def claim(
    deps: Deps,
    charge_id: int,
    now: datetime,
    *,
    reconcile: bool,
    plan: Callable[[Snapshot], AttemptPlan | None] | None = None,
) -> Claimed:
    """Make this worker the only one acting on the charge (``_CLAIM``).

    ``plan(snapshot)``, when given and when it returns an ``AttemptPlan``, is recorded before
    ``claim`` returns: the STARTED attempt row and the new attempt_count, fenced by the lease
    just taken. So the common charge costs two statements before the call to Toss and one after.

    On PostgreSQL each statement commits on its own (a worker that dies between the claim and
    the attempt leaves a PROCESSING charge with no call recorded: its lease expires and the
    charge is claimed again, as after any crash); on SQLite they share one BEGIN IMMEDIATE.
    """
    token = now + timedelta(seconds=lease_seconds(deps))
    claimed = {"b_id": charge_id, "b_token": token, "b_now": now}
    pg = is_postgres(deps.engine)
    with _transaction(deps, autocommit=pg) as conn:
        if pg:
            row = _CLAIM_PG[reconcile].execute(conn, claimed).first()
        elif conn.execute(_CLAIM[reconcile], claimed).rowcount == 1:
            row = conn.execute(_SNAPSHOT, {"charge_id": charge_id}).one()
        else:
            row = None
        if row is None:  # not claimable now, or missing (status None)
            return Claimed(None, conn.execute(_STATUS, {"charge_id": charge_id}).scalar())
        snap = _snapshot(conn, row, token)
        todo = plan(snap) if plan is not None else None
        if todo is None:
            return Claimed(snap, ChargeStatus.PROCESSING)
        if todo.call != CallKind.CHARGE:
            raise ValueError("claim records CHARGE attempts only (a lookup follows the claim)")
        attempt_id = _start(conn, charge_id, token, todo, now)
    if attempt_id is None:  # the lease was taken over between our two statements
        return Claimed(None, ChargeStatus.PROCESSING)
    return Claimed(snap, ChargeStatus.PROCESSING, attempt_id)


def _start(
    conn: Connection, charge_id: int, token: datetime, todo: AttemptPlan, now: datetime
) -> int | None:
    """The claimed charge's STARTED CHARGE attempt and new attempt_count, fenced by ``token``;
    None when the lease is no longer ours."""
    if _is_pg(conn):
        attempt = {f"a_{k}": v for k, v in _attempt_values(charge_id, todo, now).items()}
        fence = {"b_id": charge_id, "b_token": token, "b_count": todo.number}
        found = _START_PG.execute(conn, {**fence, **attempt}).first()
        return None if found is None else int(found.id)
    fenced = {"b_id": charge_id, "b_token": token, "attempt_count": todo.number}
    if conn.execute(_UPDATE_FENCED, fenced).rowcount != 1:
        return None
    return _insert_attempt(conn, charge_id, todo, now)


def _is_pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _attempt_values(charge_id: int, todo: AttemptPlan, now: datetime) -> dict[str, Any]:
    return {
        "charge_id": charge_id, "call": todo.call, "number": todo.number,
        "idempotency_key": todo.idempotency_key, "amount": todo.amount, "started_at": now,
        "outcome": AttemptOutcome.STARTED,
    }  # fmt: skip


def _insert_attempt(conn: Connection, charge_id: int, todo: AttemptPlan, now: datetime) -> int:
    values = _attempt_values(charge_id, todo, now)
    return int(conn.execute(_INSERT_ATTEMPT, values).scalar_one())


def current_status(deps: Deps, charge_id: int) -> str | None:
    with _reading(deps) as conn:
        return conn.execute(_STATUS, {"charge_id": charge_id}).scalar()


def _last(rows: Sequence[Any]) -> LastCall | None:
    if not rows:
        return None
    r = rows[-1]
    return LastCall(call=r.call, number=r.number, outcome=r.outcome, http_status=r.http_status)


def load_snapshot(deps: Deps, charge_id: int, token: datetime) -> Snapshot:
    with _reading(deps) as conn:
        row = conn.execute(_SNAPSHOT, {"charge_id": charge_id}).one()
        return _snapshot(conn, row, token)


def _snapshot(conn: Connection, row: Any, token: datetime) -> Snapshot:
    # A charge never tried has no attempt rows (lookups only follow a CHARGE call, and a
    # CHARGE call sets attempt_count): skip the query for the common, fresh charge.
    fresh = row.attempt_count == 0 and row.reconcile_count == 0
    rows = [] if fresh else conn.execute(_ATTEMPTS, {"charge_id": row.id}).all()
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
    """Record a call before making it (outcome STARTED), for a charge claimed earlier.
    Returns the row id, or None when the lease was lost (then the caller must not call Toss)."""
    fence = {"b_id": snap.charge_id, "b_token": snap.token, "updated_at": now}
    if call == CallKind.CHARGE:
        fence["attempt_count"] = number
    with _transaction(deps) as conn:
        if conn.execute(_UPDATE_FENCED, fence).rowcount != 1:
            return None
        todo = AttemptPlan(call, number, idempotency_key, amount)
        return _insert_attempt(conn, snap.charge_id, todo, now)


def _finish(conn: Connection, attempt_id: int, now: datetime, fields: dict[str, Any]) -> None:
    conn.execute(_UPDATE_ATTEMPT, {"b_attempt_id": attempt_id, "finished_at": now, **fields})


def finish_attempt(deps: Deps, attempt_id: int, now: datetime, fields: dict[str, Any]) -> None:
    """Complete an attempt row without touching the charge (e.g. a lookup answered 404)."""
    with _transaction(deps) as conn:
        _finish(conn, attempt_id, now, fields)


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
    charge_values = {"lease_expires_at": None, "updated_at": now, **charge_fields}
    changes_subscription = (
        subscription is not None and snap.subscription_status in subscription.when
    )
    # The common settle (a DONE charge of an ACTIVE subscription) is one statement on PostgreSQL.
    single = attempt_id is not None and not changes_subscription and is_postgres(deps.engine)
    with _transaction(deps, autocommit=single) as conn:
        if attempt_id is not None and _is_pg(conn):
            attempt_values = {"finished_at": now, **attempt_fields}
            stmt = _settle_pg(tuple(attempt_values), tuple(charge_values))
            params = {"b_id": snap.charge_id, "b_token": snap.token, "b_attempt_id": attempt_id,
                      **{f"a_{k}": v for k, v in attempt_values.items()},
                      **{f"c_{k}": v for k, v in charge_values.items()}}  # fmt: skip
            result = stmt.execute(conn, params)
            fenced = result.rowcount == 1
            result.close()
        else:
            if attempt_id is not None:
                _finish(conn, attempt_id, now, attempt_fields)
            params = {"b_id": snap.charge_id, "b_token": snap.token, **charge_values}
            fenced = conn.execute(_UPDATE_FENCED, params).rowcount == 1
        if not fenced:
            return False
        # Skip the (conditional, usually no-op) subscription UPDATE when the snapshot says it
        # cannot apply: an ACTIVE subscription's DONE charge is the common case. The change
        # is still conditional on the current status when it does run.
        if subscription is not None and changes_subscription:
            values: dict[str, Any] = {"status": subscription.to, "updated_at": now}
            if subscription.clear_next_charge_at:
                values["next_charge_at"] = None
            if (
                subscription.resume_schedule
                and snap.subscription_status == SubscriptionStatus.UNPAID
            ):
                # Only then: a read-for-update on every DONE charge would cost a round trip.
                _resume_schedule(conn, snap.subscription_id, subscription.when, now)
            conn.execute(
                update(_subs)
                .where(_subs.c.id == snap.subscription_id, _subs.c.status.in_(subscription.when))
                .values(**values)
            )
    return True


def _resume_schedule(conn: Connection, sub_id: int, when: tuple[str, ...], now: datetime) -> None:
    """An UNPAID subscription whose charge was paid after all (operator retry, new card) is
    scheduled again from its first cycle after now; missed cycles are not charged."""
    sub = conn.execute(
        select(_subs.c.status, _subs.c.next_charge_at, _subs.c.cron, _subs.c.timezone)
        .where(_subs.c.id == sub_id)
        .with_for_update()
    ).one_or_none()
    if sub is not None and sub.status in when and sub.next_charge_at is None:
        conn.execute(
            update(_subs)
            .where(_subs.c.id == sub_id)
            .values(next_charge_at=next_cycle_at(sub.cron, sub.timezone, now))
        )
