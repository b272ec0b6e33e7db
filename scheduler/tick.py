"""``ChargeScheduler.tick(now) -> seconds_until_next``: one scheduler pass (docs/scheduler.md).

The loop around it is Celery beat's (scheduler/beat.py) or a three-line shell in tests:
``clock.sleep(scheduler.tick(clock.now()))``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.orm import Session, sessionmaker

from models.charge import Charge
from models.status import ChargeStatus
from models.subscription import Subscription
from scheduler.claim import claim_due_reconciles, claim_due_retries, claim_due_subscriptions
from scheduler.clock import require_aware
from scheduler.sweep import SweepResult, sweep

if TYPE_CHECKING:  # worker/ imports the Celery app; the scheduler core needs neither
    from worker.deps import Deps
    from worker.publish import Publisher

__all__ = ["ChargeScheduler", "PassResult", "MIN_TICK_SECONDS"]

log = logging.getLogger(__name__)

#: The shortest wait returned when nothing more is known to be due right now (stops a hot
#: loop on rows another beat holds locked); 0 is returned only when a batch was full.
MIN_TICK_SECONDS = 0.05


@dataclass(frozen=True)
class PassResult:
    """What the last pass did (for logs and tests)."""

    created: int = 0
    skipped: int = 0
    unscheduled: int = 0
    retries: int = 0
    reconciles: int = 0
    swept: int = 0
    more_due: bool = False

    @property
    def did_something(self) -> bool:
        counts = (self.created, self.skipped, self.unscheduled, self.retries, self.reconciles)
        return any(counts) or self.swept > 0


class ChargeScheduler:
    """Creates one Charge per due subscription cycle and enqueues due work.

    Parameters:
        session_factory: sessions on the billing database.
        publisher: where task messages go (``CeleryPublisher`` in production).
        batch_size: subscriptions (and retries, reconciliations) claimed per pass each.
        max_tick_seconds: the longest wait ``tick`` returns.
        max_skipped_per_pass: SKIPPED rows written per subscription per pass (newest first).
        stale_enqueue_seconds: a PENDING charge enqueued longer ago is re-published.
        sweep_interval_seconds: how often (in ``now`` time) a pass runs the sweeper.
        publish_behind: while a backlog is worked through (a pass claimed a full batch), publish
            that batch on a background thread while the next pass claims, so PostgreSQL's
            work and this process's overlap; at most one batch is in flight, and none once
            ``tick`` returns a wait > 0 (``close`` waits for it too).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        publisher: Publisher,
        *,
        batch_size: int = 1000,
        max_tick_seconds: float = 5.0,
        max_skipped_per_pass: int = 100,
        stale_enqueue_seconds: float = 300.0,
        sweep_interval_seconds: float = 60.0,
        publish_behind: bool = True,
    ) -> None:
        if batch_size < 1 or max_tick_seconds <= 0 or max_skipped_per_pass < 0:
            raise ValueError("batch_size >= 1, max_tick_seconds > 0, max_skipped_per_pass >= 0")
        self.session_factory = session_factory
        self.publisher = publisher
        self.batch_size = batch_size
        self.max_tick_seconds = max_tick_seconds
        self.max_skipped_per_pass = max_skipped_per_pass
        self.stale_enqueue_seconds = stale_enqueue_seconds
        self.sweep_interval_seconds = sweep_interval_seconds
        self.publish_behind = publish_behind
        self._next_sweep_at: datetime | None = None
        self._publisher_thread: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None
        #: The result of the most recent pass.
        self.last_pass = PassResult()

    @classmethod
    def from_deps(cls, deps: Deps, **options: float) -> ChargeScheduler:
        """A scheduler on a worker's dependencies (the ``billbeat.scheduler_pass`` task: one
        pass per instance, so it publishes before returning)."""
        options.setdefault("publish_behind", False)
        options.setdefault("max_tick_seconds", deps.settings.tick_seconds)
        options.setdefault("stale_enqueue_seconds", deps.settings.stale_enqueue_seconds)
        options.setdefault("sweep_interval_seconds", deps.settings.sweep_interval_seconds)
        return cls(deps.session_factory, deps.publisher, **options)  # type: ignore[arg-type]

    def tick(self, now: datetime) -> float:
        """Run one pass at ``now`` (aware); return the seconds until something is next due,
        at most ``max_tick_seconds``, 0 when a batch was full (more is due now).

        Database errors propagate (nothing published for the failed step); publishing
        errors are logged, and the sweeper re-publishes those rows later.
        """
        now = require_aware(now)
        started = time.perf_counter()
        with self.session_factory() as session:
            claim = claim_due_subscriptions(
                session, now, batch_size=self.batch_size, max_skipped=self.max_skipped_per_pass
            )
            session.commit()
        self._wait_published()
        if claim.full and self.publish_behind:  # more is due now: claim it meanwhile
            self._in_flight = self._background().submit(
                self._publish, self.publisher.charge, claim.pending_ids, "charge"
            )
        else:
            self._publish(self.publisher.charge, claim.pending_ids, "charge")
        with self.session_factory() as session:
            retries = claim_due_retries(session, now, batch_size=self.batch_size)
            session.commit()
        self._publish(self.publisher.charge, retries, "retry")
        with self.session_factory() as session:
            reconciles = claim_due_reconciles(session, now, batch_size=self.batch_size)
            session.commit()
        self._publish(self.publisher.reconcile, reconciles, "reconcile")
        swept = self._maybe_sweep(now)
        more_due = claim.full or len(retries) >= self.batch_size
        more_due = more_due or len(reconciles) >= self.batch_size
        self.last_pass = PassResult(
            created=len(claim.pending_ids),
            skipped=claim.skipped,
            unscheduled=claim.unscheduled,
            retries=len(retries),
            reconciles=len(reconciles),
            swept=swept.total if swept else 0,
            more_due=more_due,
        )
        wait = 0.0 if more_due else self._seconds_until_next(now)
        self._log(self.last_pass, (time.perf_counter() - started) * 1000)
        return wait

    def close(self) -> None:
        """Wait for a batch still being published; stop the background thread."""
        self._wait_published()
        if self._publisher_thread is not None:
            self._publisher_thread.shutdown()
            self._publisher_thread = None

    def _background(self) -> ThreadPoolExecutor:
        if self._publisher_thread is None:
            self._publisher_thread = ThreadPoolExecutor(1, thread_name_prefix="beat-publish")
        return self._publisher_thread

    def _wait_published(self) -> None:
        if self._in_flight is not None:
            self._in_flight.result()  # _publish logs its own errors
            self._in_flight = None

    def _maybe_sweep(self, now: datetime) -> SweepResult | None:
        if self._next_sweep_at is not None and now < self._next_sweep_at:
            return None
        result = sweep(
            self.session_factory,
            self.publisher,
            now,
            stale_enqueue_seconds=self.stale_enqueue_seconds,
            batch_size=self.batch_size,
        )
        self._next_sweep_at = now + timedelta(seconds=self.sweep_interval_seconds)
        return result

    def _seconds_until_next(self, now: datetime) -> float:
        # Three index-only lookups in one round trip (ix_subscriptions_next_charge_at,
        # ix_charges_status_next_attempt_at); one equality per status keeps each a min() scan.
        def next_attempt(status: ChargeStatus) -> ScalarSelect[datetime | None]:
            return (
                select(func.min(Charge.next_attempt_at))
                .where(Charge.status == status.value)
                .scalar_subquery()
            )

        with self.session_factory() as session:
            row = session.execute(
                select(
                    select(func.min(Subscription.next_charge_at)).scalar_subquery(),
                    next_attempt(ChargeStatus.RETRY_SCHEDULED),
                    next_attempt(ChargeStatus.UNKNOWN),
                )
            ).one()
            session.rollback()  # read-only: end the transaction without a commit
        candidates = [_as_utc(v) for v in row if v is not None]
        if self._next_sweep_at is not None:
            candidates.append(self._next_sweep_at)
        if not candidates:
            return self.max_tick_seconds
        seconds = (min(candidates) - now).total_seconds()
        return min(max(seconds, MIN_TICK_SECONDS), self.max_tick_seconds)

    def _publish(self, send: Callable[[Sequence[int]], None], ids: list[int], what: str) -> None:
        if not ids:
            return
        try:
            send(ids)
        except Exception as exc:  # committed already: the sweeper re-publishes these later
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            log.error(
                "beat: publish %s failed count=%d error=%s: %s",
                what,
                len(ids),
                type(exc).__name__,
                first,
            )

    def _log(self, result: PassResult, elapsed_ms: float) -> None:
        level = logging.INFO if result.did_something else logging.DEBUG
        if log.isEnabledFor(level):
            log.log(
                level,
                "beat: created=%d skipped=%d retries=%d reconciles=%d swept=%d%s in %.1fms",
                result.created,
                result.skipped,
                result.retries,
                result.reconciles,
                result.swept,
                f" unscheduled={result.unscheduled}" if result.unscheduled else "",
                elapsed_ms,
            )


def _as_utc(value: object) -> datetime:
    # min() keeps the column's UTCDateTime type, so values arrive aware; this is a guard.
    if not isinstance(value, datetime):
        raise TypeError(f"expected a datetime from min(), got {type(value).__name__}")
    return require_aware(value)
