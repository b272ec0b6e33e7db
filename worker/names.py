"""Stable task names: Flower, the celery CLI and the README use these verbatim."""

from __future__ import annotations

__all__ = [
    "CHARGE",
    "CHARGE_SUBSCRIPTION_NOW",
    "RETRY_CHARGE_NOW",
    "RECONCILE",
    "SWEEP",
    "SCHEDULER_PASS",
]

#: Charge one Charge row (args: charge_id). Safe to deliver twice.
CHARGE = "billbeat.charge"
#: Create an off-cycle charge for a subscription and charge it (args: subscription_id).
CHARGE_SUBSCRIPTION_NOW = "billbeat.charge_subscription_now"
#: Retry a RETRY_SCHEDULED / FAILED charge now, as a new attempt (args: charge_id).
RETRY_CHARGE_NOW = "billbeat.retry_charge_now"
#: Look an UNKNOWN charge up by orderId at Toss and settle it (args: charge_id).
RECONCILE = "billbeat.reconcile"
#: Re-enqueue charges whose message was lost or whose lease expired (no args).
SWEEP = "billbeat.sweep"
#: Run one scheduler pass now, as beat would (no args).
SCHEDULER_PASS = "billbeat.scheduler_pass"
