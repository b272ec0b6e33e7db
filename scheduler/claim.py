"""Claiming due work in one transaction: subscriptions -> Charge rows, and due charges.

Every function here runs inside the caller's session and does not commit: the caller
commits, and only then publishes the returned ids (a message must never name a row that a
rollback could still remove).

Claims are safe with several beats at once:

* PostgreSQL: due rows are selected ``FOR UPDATE SKIP LOCKED`` (a row another beat holds is
  skipped, and a row it already advanced no longer matches ``<= now`` when re-checked), the
  charge updates are conditional (``WHERE status = ...``), and charges are inserted with
  ``ON CONFLICT DO NOTHING`` on the unique (subscription_id, cycle_at) as the last defence.
* SQLite: every transaction is ``BEGIN IMMEDIATE`` (models.db), so writers are serialised and
  the second beat reads what the first committed; the same conditions apply.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from models.charge import Charge, order_id_for
from models.status import ChargeStatus, SubscriptionStatus
from models.subscription import Subscription
from scheduler.cycles import first_cycle_at_or_after, next_cycle_at, prev_cycle_at

__all__ = [
    "SubscriptionClaim",
    "claim_due_subscriptions",
    "claim_due_retries",
    "claim_due_reconciles",
    "RECONCILE_LEASE_SECONDS",
]

log = logging.getLogger(__name__)

#: How long a published reconciliation is left alone before another pass may re-publish it
#: (the reconcile task sets the real next time; this only stops other beats in between).
RECONCILE_LEASE_SECONDS = 300.0
#: Counting the cycles older than the SKIPPED cap stops here (the count is only logged).
_COUNT_UNRECORDED_LIMIT = 10_000
#: Rows per INSERT / IN-list: well under SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 500
_SCHEDULABLE = (SubscriptionStatus.ACTIVE.value, SubscriptionStatus.PAST_DUE.value)
_ONE_US = timedelta(microseconds=1)
_PENDING = ChargeStatus.PENDING.value
_SKIPPED = ChargeStatus.SKIPPED.value

_subs = cast(Table, Subscription.__table__)
_charges = cast(Table, Charge.__table__)


@dataclass
class SubscriptionClaim:
    """What one claim batch did. ``pending_ids`` are the new charges to publish."""

    claimed: int = 0
    pending_ids: list[int] = field(default_factory=list)
    skipped: int = 0
    unscheduled: int = 0
    #: The batch was full: more due subscriptions may be waiting.
    full: bool = False


@dataclass(frozen=True)
class _Plan:
    """The decision for every due row sharing (cron, timezone, next_charge_at)."""

    charge_at: datetime | None
    skipped_at: tuple[datetime, ...]
    unrecorded: int
    next_at: datetime


def _plan(cron: str, tz: str, due_at: datetime, now: datetime, max_skipped: int) -> _Plan:
    latest = prev_cycle_at(cron, tz, now)
    if latest < due_at:
        # next_charge_at is not on the cycle (set by hand?): no cycle is due; realign.
        return _Plan(None, (), 0, first_cycle_at_or_after(cron, tz, due_at))
    # Catch-up: only the latest missed cycle is charged; the older ones in
    # [due_at, latest) are recorded as SKIPPED, newest first, at most max_skipped of them.
    skipped: list[datetime] = []
    at = prev_cycle_at(cron, tz, latest - _ONE_US)
    while at >= due_at and len(skipped) < max_skipped:
        skipped.append(at)
        at = prev_cycle_at(cron, tz, at - _ONE_US)
    unrecorded = 0
    if at >= due_at:
        older = first_cycle_at_or_after(cron, tz, due_at)
        while older <= at and unrecorded < _COUNT_UNRECORDED_LIMIT:
            unrecorded += 1
            older = next_cycle_at(cron, tz, older)
    return _Plan(latest, tuple(skipped), unrecorded, next_cycle_at(cron, tz, latest))


class _Subs(NamedTuple):
    """Due subscriptions sharing one plan, column by column."""

    ids: list[int]
    order_names: list[str]
    amounts: list[int]
    tax_free_amounts: list[int]


@dataclass
class _NewCharges:
    """A claim's charge rows, column by column (PostgreSQL binds each column as one array)."""

    subscription_id: list[int] = field(default_factory=list)
    cycle_at: list[datetime] = field(default_factory=list)
    order_id: list[str] = field(default_factory=list)
    order_name: list[str] = field(default_factory=list)
    amount: list[int] = field(default_factory=list)
    tax_free_amount: list[int] = field(default_factory=list)
    status: list[str] = field(default_factory=list)

    def add(self, subs: _Subs, cycle_at: datetime, status: str) -> None:
        """One charge at ``cycle_at`` for each of ``subs``."""
        self.subscription_id += subs.ids
        self.cycle_at += [cycle_at] * len(subs.ids)
        self.order_id += [order_id_for(sub_id, cycle_at) for sub_id in subs.ids]
        # Copied now: an amount change applies from the next created cycle on.
        self.order_name += subs.order_names
        self.amount += subs.amounts
        self.tax_free_amount += subs.tax_free_amounts
        self.status += [status] * len(subs.ids)

    def enqueued_at(self, now: datetime) -> list[datetime | None]:
        return [now if s == _PENDING else None for s in self.status]

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        """As dicts (SQLite's executemany)."""
        fixed = {"source": "CYCLE", "attempt_count": 0, "decline_count": 0, "reconcile_count": 0,
                 "waiting_for_card": False, "next_attempt_at": None, "lease_expires_at": None,
                 "created_at": now, "updated_at": now}  # fmt: skip
        columns = zip(self.subscription_id, self.cycle_at, self.order_id, self.order_name,
                      self.amount, self.tax_free_amount, self.status, self.enqueued_at(now),
                      strict=True)  # fmt: skip
        return [{**fixed, **dict(zip(_CHARGE_COLUMNS, values, strict=True))} for values in columns]


_CHARGE_COLUMNS = ("subscription_id", "cycle_at", "order_id", "order_name", "amount",
                   "tax_free_amount", "status", "enqueued_at")  # fmt: skip


def _write(
    session: Session, charges: _NewCharges, next_at: dict[int, datetime | None], now: datetime
) -> list[int]:
    """Insert the charge rows (ignoring any that already exist) and set the subscriptions'
    ``next_charge_at``; return the new PENDING ids."""
    if session.get_bind().dialect.name == "postgresql":
        return _write_pg(session, charges, next_at, now)
    pending: list[int] = []
    if charges.status:
        stmt = sqlite.insert(_charges).on_conflict_do_nothing()
        # executemany: SQLAlchemy's "insertmanyvalues" sends multi-row INSERT ... RETURNING
        # batches from one cached compiled statement.
        result = session.execute(stmt.returning(_charges.c.id, _charges.c.status),
                                 charges.rows(now))  # fmt: skip
        pending = [r.id for r in result if r.status == _PENDING]
    groups: dict[datetime | None, list[int]] = defaultdict(list)
    for sub_id, at in next_at.items():
        groups[at].append(sub_id)
    for at, ids in groups.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            session.execute(update(_subs).where(_subs.c.id.in_(chunk)).values(next_charge_at=at))
    return pending


#: A claim's whole write in one statement and one round trip. The rows travel as arrays
#: bound in binary (``%(name)b``: psycopg builds a text-format array element by element in
#: Python, ~5 us per timestamp), and the SQL text never changes, so psycopg and PostgreSQL
#: parse and plan it once (it becomes a prepared statement). The UPDATE in the WITH runs
#: in full even though nothing reads it.
_PG_WRITE = """
    WITH advanced AS (
        UPDATE subscriptions AS s SET next_charge_at = n.next_at
        FROM unnest(%(next_ids)b::integer[], %(next_ats)b::timestamptz[]) AS n(id, next_at)
        WHERE s.id = n.id
    )
    INSERT INTO charges (subscription_id, cycle_at, order_id, order_name, amount,
        tax_free_amount, source, status, attempt_count, decline_count, reconcile_count,
        waiting_for_card, next_attempt_at, enqueued_at, lease_expires_at, created_at, updated_at)
    SELECT u.sub, u.cycle, u.oid, u.name, u.amount, u.tax_free, 'CYCLE', u.status, 0, 0, 0,
        false, NULL, u.enqueued, NULL, %(now)b, %(now)b
    FROM unnest(%(subs)b::integer[], %(cycles)b::timestamptz[], %(oids)b::text[],
                %(names)b::text[], %(amounts)b::integer[], %(tax_frees)b::integer[],
                %(statuses)b::text[], %(enqueued)b::timestamptz[])
         AS u(sub, cycle, oid, name, amount, tax_free, status, enqueued)
    ON CONFLICT DO NOTHING
    RETURNING id, status
"""


def _write_pg(
    session: Session, charges: _NewCharges, next_at: dict[int, datetime | None], now: datetime
) -> list[int]:
    params = {
        "next_ids": list(next_at),
        "next_ats": list(next_at.values()),
        "now": now,
        "subs": charges.subscription_id,
        "cycles": charges.cycle_at,
        "oids": charges.order_id,
        "names": charges.order_name,
        "amounts": charges.amount,
        "tax_frees": charges.tax_free_amount,
        "statuses": charges.status,
        "enqueued": charges.enqueued_at(now),
    }
    result = session.connection().exec_driver_sql(_PG_WRITE, params)
    return [charge_id for charge_id, status in result if status == _PENDING]


def claim_due_subscriptions(
    session: Session, now: datetime, *, batch_size: int, max_skipped: int
) -> SubscriptionClaim:
    """Claim up to ``batch_size`` subscriptions whose ``next_charge_at <= now``: create the
    latest cycle's PENDING charge (and SKIPPED rows for older missed cycles, at most
    ``max_skipped``), and advance ``next_charge_at`` past ``now``. Does not commit."""
    rows = session.execute(
        select(
            _subs.c.id,
            _subs.c.cron,
            _subs.c.timezone,
            _subs.c.status,
            _subs.c.next_charge_at,
            _subs.c.order_name,
            _subs.c.amount,
            _subs.c.tax_free_amount,
        )
        .where(_subs.c.next_charge_at <= now)
        .order_by(_subs.c.next_charge_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL, ignored by SQLite
    ).all()
    claim = SubscriptionClaim(claimed=len(rows), full=len(rows) >= batch_size)
    next_at: dict[int, datetime | None] = {}
    groups: dict[tuple[str, str, datetime], list[Any]] = defaultdict(list)
    for row in rows:
        sub_id, cron, tz, status, due_at = row[:5]
        if status in _SCHEDULABLE:
            groups[(cron, tz, due_at)].append(row)
        else:  # a stale next_charge_at on a paused/unpaid/canceled row: never charge it
            next_at[sub_id] = None
            claim.unscheduled += 1
    charges = _NewCharges()
    for key, group in groups.items():
        ids = [row[0] for row in group]
        try:
            plan = _plan(*key, now, max_skipped)
        except ValueError as exc:
            # Validated on write, so these are corrupted rows; unscheduling them stops a
            # hot loop of failing passes, and the error says which rows to fix.
            for sub_id in ids:
                log.error("beat: subscription_id=%s unscheduled: %s", sub_id, exc)
            next_at.update(dict.fromkeys(ids, None))
            claim.unscheduled += len(ids)
            continue
        for sub_id in ids if plan.unrecorded else ():
            log.warning(
                "beat: subscription_id=%s skipped_recorded=%d older_unrecorded=%s%d",
                sub_id,
                len(plan.skipped_at),
                ">=" if plan.unrecorded >= _COUNT_UNRECORDED_LIMIT else "",
                plan.unrecorded,
            )
        *_, names, amounts, tax_frees = zip(*group, strict=True)
        subs = _Subs(ids, list(names), list(amounts), list(tax_frees))
        for at in plan.skipped_at:
            charges.add(subs, at, _SKIPPED)
        if plan.charge_at is not None:
            charges.add(subs, plan.charge_at, _PENDING)
        claim.skipped += len(plan.skipped_at) * len(ids)
        next_at.update(dict.fromkeys(ids, plan.next_at))
    if next_at:
        claim.pending_ids = _write(session, charges, next_at, now)
    return claim


def _claim_charges(session: Session, status: str, now: datetime, *, batch_size: int) -> list[int]:
    return list(
        session.scalars(
            select(_charges.c.id)
            .where(_charges.c.status == status, _charges.c.next_attempt_at <= now)
            .order_by(_charges.c.next_attempt_at)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )


def _conditional_update(
    session: Session, ids: Sequence[int], status: str, now: datetime, values: dict[str, Any]
) -> list[int]:
    claimed: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        stmt = (
            update(_charges)
            .where(
                _charges.c.id.in_(bindparam("ids", expanding=True)),
                _charges.c.status == status,
                _charges.c.next_attempt_at <= now,
            )
            .values(**values)
            .returning(_charges.c.id)
        )
        claimed.extend(session.scalars(stmt, {"ids": list(ids[start : start + _CHUNK])}))
    return sorted(claimed)


def claim_due_retries(session: Session, now: datetime, *, batch_size: int) -> list[int]:
    """RETRY_SCHEDULED charges with ``next_attempt_at <= now`` become PENDING (enqueued now);
    returns their ids to publish. Hard-declined charges waiting for a card are claimed the
    same way at their deadline: the charge task decides. Does not commit."""
    ids = _claim_charges(session, ChargeStatus.RETRY_SCHEDULED, now, batch_size=batch_size)
    if not ids:
        return []
    values = {
        "status": ChargeStatus.PENDING.value,
        "next_attempt_at": None,
        "enqueued_at": now,
        "updated_at": now,
    }
    return _conditional_update(session, ids, ChargeStatus.RETRY_SCHEDULED, now, values)


def claim_due_reconciles(session: Session, now: datetime, *, batch_size: int) -> list[int]:
    """UNKNOWN charges with ``next_attempt_at <= now`` get a lease (``next_attempt_at`` moved
    RECONCILE_LEASE_SECONDS ahead, so no other pass re-publishes them meanwhile); returns
    their ids to publish to ``billbeat.reconcile``. Does not commit."""
    ids = _claim_charges(session, ChargeStatus.UNKNOWN, now, batch_size=batch_size)
    if not ids:
        return []
    lease = now + timedelta(seconds=RECONCILE_LEASE_SECONDS)
    values = {"next_attempt_at": lease, "enqueued_at": now, "updated_at": now}
    return _conditional_update(session, ids, ChargeStatus.UNKNOWN, now, values)
