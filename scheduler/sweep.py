"""The sweeper: re-publishes charges whose task message was lost or whose worker died.

Called by the scheduler every ``sweep_interval_seconds`` and by the ``billbeat.sweep`` task.
Re-publishing is always safe: the charge task claims the row first, and a row with an
unfinished attempt is reconciled before anything is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, bindparam, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.charge import Charge
from models.status import ChargeStatus

if TYPE_CHECKING:  # worker/ imports the Celery app at import time
    from worker.publish import Publisher

__all__ = ["SweepResult", "sweep", "claim_stale_charges"]

log = logging.getLogger(__name__)

_charges = cast(Table, Charge.__table__)
#: Rows per IN-list.
_CHUNK = 500


@dataclass(frozen=True)
class SweepResult:
    """How many charges one sweep re-published, by reason."""

    #: PENDING charges whose message was presumably lost (old or missing ``enqueued_at``).
    stale_pending: int = 0
    #: PROCESSING charges whose worker lease expired (the worker died mid-charge).
    expired_leases: int = 0

    @property
    def total(self) -> int:
        return self.stale_pending + self.expired_leases


def _stale_conditions(now: datetime, stale_before: datetime) -> list[list[ColumnElement[bool]]]:
    not_recently_enqueued = or_(
        _charges.c.enqueued_at.is_(None), _charges.c.enqueued_at < stale_before
    )
    return [
        [_charges.c.status == ChargeStatus.PENDING.value, not_recently_enqueued],
        [
            _charges.c.status == ChargeStatus.PROCESSING.value,
            _charges.c.lease_expires_at < now,
            # The worker's lease is left expired (so the re-delivered task can take the row
            # over at once); enqueued_at is the sweeper's own lease against re-publishing.
            not_recently_enqueued,
        ],
    ]


def _claim(
    session: Session, where: list[ColumnElement[bool]], now: datetime, batch_size: int
) -> list[int]:
    ids: Sequence[int] = list(
        session.scalars(
            select(_charges.c.id)
            .where(*where)
            .order_by(_charges.c.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    claimed: list[int] = []
    values: dict[str, Any] = {"enqueued_at": now}
    for start in range(0, len(ids), _CHUNK):
        # Conditional: a row another sweeper (or a worker) changed meanwhile is left alone.
        stmt = (
            update(_charges)
            .where(_charges.c.id.in_(bindparam("ids", expanding=True)), *where)
            .values(**values)
            .returning(_charges.c.id)
        )
        claimed.extend(session.scalars(stmt, {"ids": list(ids[start : start + _CHUNK])}))
    return sorted(claimed)


def claim_stale_charges(
    session: Session, now: datetime, *, stale_enqueue_seconds: float, batch_size: int = 1000
) -> tuple[list[int], list[int]]:
    """Mark stale PENDING and lease-expired PROCESSING charges as enqueued ``now``; return
    (stale_pending_ids, expired_lease_ids) to publish after the caller commits."""
    stale_before = now - timedelta(seconds=stale_enqueue_seconds)
    pending_where, processing_where = _stale_conditions(now, stale_before)
    return (
        _claim(session, pending_where, now, batch_size),
        _claim(session, processing_where, now, batch_size),
    )


def sweep(
    session_factory: sessionmaker[Session],
    publisher: Publisher,
    now: datetime,
    *,
    stale_enqueue_seconds: float = 300.0,
    batch_size: int = 1000,
) -> SweepResult:
    """Re-publish ``billbeat.charge`` for PENDING charges not enqueued within
    ``stale_enqueue_seconds`` (message lost, e.g. Redis restarted empty) and for PROCESSING
    charges whose lease expired before ``now`` (worker died), at most ``batch_size`` of each.

    Commits before publishing. A publishing failure is logged, not raised: the rows are
    stale again after ``stale_enqueue_seconds`` and the next sweep re-publishes them.
    Database errors propagate.
    """
    with session_factory() as session:
        pending, processing = claim_stale_charges(
            session, now, stale_enqueue_seconds=stale_enqueue_seconds, batch_size=batch_size
        )
        session.commit()
    ids = pending + processing
    if ids:
        try:
            publisher.charge(ids)
        except Exception as exc:  # the broker is down: the next sweep retries
            log.error("beat: sweep publish failed count=%d error=%s", len(ids), _one_line(exc))
        else:
            log.info(
                "beat: swept stale_pending=%d expired_leases=%d", *map(len, (pending, processing))
            )
    return SweepResult(stale_pending=len(pending), expired_leases=len(processing))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}"
