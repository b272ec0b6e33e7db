"""Celery tasks: thin shells (STYLE G8). IDs in, an outcome string out, logic in billing.py.

Registered with ``shared_task`` so every Celery app built by ``worker.app.make_app`` (the
process's app, or a test's app on its own broker) gets them. Arguments and results are IDs and
outcome strings only: Flower shows both, so a billing key or secret must never be one.
Long waits live in the database (next_attempt_at, published by the scheduler), never in a
countdown/ETA; none of these tasks use Celery retries.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task

from worker import billing, names
from worker.deps import get_deps

__all__ = [
    "charge",
    "charge_subscription_now",
    "retry_charge_now",
    "reconcile",
    "sweep",
    "scheduler_pass",
]

logger = logging.getLogger(__name__)


@shared_task(name=names.CHARGE, acks_late=True)
def charge(charge_id: int) -> str:
    """Charge one Charge row once; safe to deliver twice (the row is claimed first)."""
    return billing.run_charge(get_deps(), int(charge_id))


@shared_task(name=names.CHARGE_SUBSCRIPTION_NOW, acks_late=True, bind=True)
def charge_subscription_now(self: Task, subscription_id: int) -> str:
    """Create an off-cycle MANUAL charge for the subscription and charge it ("REFUSED" for a
    canceled or paused subscription). The task id names the charge, so a redelivered message
    finishes the same charge and never charges twice."""
    return billing.charge_subscription_now(
        get_deps(), int(subscription_id), request_id=self.request.id
    )


@shared_task(name=names.RETRY_CHARGE_NOW, acks_late=True)
def retry_charge_now(charge_id: int) -> str:
    """Operator retry of a RETRY_SCHEDULED/FAILED charge now (same orderId, new attempt)."""
    return billing.retry_charge_now(get_deps(), int(charge_id))


@shared_task(name=names.RECONCILE, acks_late=True)
def reconcile(charge_id: int) -> str:
    """Look an UNKNOWN charge up by orderId and settle it (re-sending if Toss has nothing)."""
    return billing.run_reconcile(get_deps(), int(charge_id))


@shared_task(name=names.SWEEP, acks_late=True)
def sweep() -> Any:
    """Re-publish charges whose message was lost or whose lease expired."""
    from scheduler.sweep import sweep as run_sweep  # written by the scheduler engineer

    deps = get_deps()
    result = run_sweep(
        deps.session_factory, deps.publisher, deps.clock.now(),
        stale_enqueue_seconds=deps.settings.stale_enqueue_seconds,
    )  # fmt: skip
    return _plain(result)


@shared_task(name=names.SCHEDULER_PASS)
def scheduler_pass() -> Any:
    """Run one scheduler pass now, as beat would; returns the seconds until the next one."""
    from scheduler.tick import ChargeScheduler  # written by the scheduler engineer

    deps = get_deps()
    return _plain(ChargeScheduler.from_deps(deps).tick(deps.clock.now()))


def _plain(result: Any) -> Any:
    # Task results must be JSON: pass numbers/strings/dicts through, describe anything else.
    if result is None or isinstance(result, (int, float, str, dict, list)):
        return result
    return repr(result)
