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
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, text, update
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


def _insert_charges(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert charge rows, ignoring any that already exist; return the new PENDING ids."""
    if session.get_bind().dialect.name == "postgresql":
        return _insert_charges_pg(session, rows)
    stmt = (
        sqlite.insert(_charges).on_conflict_do_nothing().returning(_charges.c.id, _charges.c.status)
    )
    # executemany: SQLAlchemy's "insertmanyvalues" sends multi-row INSERT ... RETURNING
    # batches from one cached compiled statement.
    result = session.execute(stmt, rows)
    return [r.id for r in result if r.status == ChargeStatus.PENDING]


#: One statement whatever the batch size: the rows travel as arrays, so PostgreSQL and
#: psycopg parse and plan it once (a multi-row VALUES list is a new, long SQL text per batch,
#: and parsing it dominated a 10%-due pass on 10^5 subscriptions).
_PG_INSERT = text(
    """
    INSERT INTO charges (subscription_id, cycle_at, order_id, order_name, amount,
        tax_free_amount, source, status, attempt_count, decline_count, reconcile_count,
        waiting_for_card, next_attempt_at, enqueued_at, lease_expires_at, created_at, updated_at)
    SELECT u.sub, u.cycle, u.oid, u.name, u.amount, u.tax_free, 'CYCLE', u.status, 0, 0, 0,
        false, NULL, u.enqueued, NULL, :now, :now
    FROM unnest(CAST(:subs AS integer[]), CAST(:cycles AS timestamptz[]), CAST(:oids AS text[]),
                CAST(:names AS text[]), CAST(:amounts AS integer[]),
                CAST(:tax_frees AS integer[]), CAST(:statuses AS text[]),
                CAST(:enqueued AS timestamptz[]))
         AS u(sub, cycle, oid, name, amount, tax_free, status, enqueued)
    ON CONFLICT DO NOTHING
    RETURNING id, status
    """
)


def _insert_charges_pg(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    params = {
        "now": rows[0]["created_at"],
        "subs": [r["subscription_id"] for r in rows],
        "cycles": [r["cycle_at"] for r in rows],
        "oids": [r["order_id"] for r in rows],
        "names": [r["order_name"] for r in rows],
        "amounts": [r["amount"] for r in rows],
        "tax_frees": [r["tax_free_amount"] for r in rows],
        "statuses": [str(r["status"]) for r in rows],
        "enqueued": [r["enqueued_at"] for r in rows],
    }
    result = session.execute(_PG_INSERT, params)
    return [r.id for r in result if r.status == ChargeStatus.PENDING]


def _charge_row(sub: Any, cycle_at: datetime, status: str, now: datetime) -> dict[str, Any]:
    return {
        "subscription_id": sub.id,
        "cycle_at": cycle_at,
        "order_id": order_id_for(sub.id, cycle_at),
        # Copied now: an amount change applies from the next created cycle on.
        "order_name": sub.order_name,
        "amount": sub.amount,
        "tax_free_amount": sub.tax_free_amount,
        "source": "CYCLE",
        "status": status,
        "attempt_count": 0,
        "decline_count": 0,
        "reconcile_count": 0,
        "waiting_for_card": False,
        "next_attempt_at": None,
        "enqueued_at": now if status == ChargeStatus.PENDING else None,
        "lease_expires_at": None,
        "created_at": now,
        "updated_at": now,
    }


def _set_next(session: Session, groups: dict[datetime | None, list[int]]) -> None:
    for next_at, ids in groups.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            session.execute(
                update(_subs).where(_subs.c.id.in_(chunk)).values(next_charge_at=next_at)
            )


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
            _subs.c.amount,
            _subs.c.tax_free_amount,
            _subs.c.order_name,
        )
        .where(_subs.c.next_charge_at <= now)
        .order_by(_subs.c.next_charge_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL, ignored by SQLite
    ).all()
    claim = SubscriptionClaim(claimed=len(rows), full=len(rows) >= batch_size)
    plans: dict[tuple[str, str, datetime], _Plan] = {}
    next_groups: dict[datetime | None, list[int]] = defaultdict(list)
    charge_rows: list[dict[str, Any]] = []
    for sub in rows:
        if sub.status not in _SCHEDULABLE:
            # A stale next_charge_at on a paused/unpaid/canceled row: never charge it.
            next_groups[None].append(sub.id)
            claim.unscheduled += 1
            continue
        key = (sub.cron, sub.timezone, sub.next_charge_at)
        plan = plans.get(key)
        if plan is None:
            try:
                plan = plans[key] = _plan(*key, now, max_skipped)
            except ValueError as exc:
                # Validated on write, so this is a corrupted row; unscheduling it stops a
                # hot loop of failing passes, and the error says which row to fix.
                log.error("beat: subscription_id=%s unscheduled: %s", sub.id, exc)
                next_groups[None].append(sub.id)
                claim.unscheduled += 1
                continue
        if plan.unrecorded:
            log.warning(
                "beat: subscription_id=%s skipped_recorded=%d older_unrecorded=%s%d",
                sub.id,
                len(plan.skipped_at),
                ">=" if plan.unrecorded >= _COUNT_UNRECORDED_LIMIT else "",
                plan.unrecorded,
            )
        for at in plan.skipped_at:
            charge_rows.append(_charge_row(sub, at, ChargeStatus.SKIPPED, now))
        if plan.charge_at is not None:
            charge_rows.append(_charge_row(sub, plan.charge_at, ChargeStatus.PENDING, now))
        claim.skipped += len(plan.skipped_at)
        next_groups[plan.next_at].append(sub.id)
    if charge_rows:
        claim.pending_ids = _insert_charges(session, charge_rows)
    _set_next(session, next_groups)
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
