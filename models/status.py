"""Status vocabularies, shared by the database, the CLI's JSON and the README."""

from __future__ import annotations

import enum

__all__ = ["ChargeStatus", "SubscriptionStatus", "BillingKeyStatus", "AttemptOutcome", "CallKind"]


class ChargeStatus(enum.StrEnum):
    PENDING = "PENDING"  #: created, waiting for a worker
    PROCESSING = "PROCESSING"  #: a worker holds the lease and may be talking to Toss
    DONE = "DONE"  #: Toss approved it (paymentKey recorded)
    RETRY_SCHEDULED = "RETRY_SCHEDULED"  #: declined or transient; next_attempt_at says when
    UNKNOWN = "UNKNOWN"  #: the call may have reached Toss; reconciling by orderId
    FAILED = "FAILED"  #: final: retries exhausted, hard decline, or canceled subscription
    SKIPPED = "SKIPPED"  #: a cycle missed during downtime (catch-up charges only the latest)


#: Charge statuses a worker may still act on.
OPEN_CHARGE_STATUSES = (
    ChargeStatus.PENDING,
    ChargeStatus.PROCESSING,
    ChargeStatus.RETRY_SCHEDULED,
    ChargeStatus.UNKNOWN,
)


class SubscriptionStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"  #: the latest charge failed; dunning retries are running
    PAUSED = "PAUSED"
    UNPAID = "UNPAID"  #: retries exhausted (or a hard decline); no new cycles until a new card
    CANCELED = "CANCELED"


class BillingKeyStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    REPLACED = "REPLACED"  #: the customer registered a newer card; kept for the record


class CallKind(enum.StrEnum):
    CHARGE = "CHARGE"  #: POST /v1/billing/{billingKey}
    LOOKUP = "LOOKUP"  #: GET /v1/payments/orders/{orderId} (reconciliation)


class AttemptOutcome(enum.StrEnum):
    STARTED = "STARTED"  #: recorded before the call; still so after a crash mid-call
    DONE = "DONE"
    DECLINED = "DECLINED"  #: soft or hard card decline
    UNKNOWN = "UNKNOWN"  #: timeout, reset, 5xx, or an "unknown yet" code
    TRANSIENT = "TRANSIENT"  #: nothing was charged; retry soon
    SETUP_ERROR = "SETUP_ERROR"  #: our key or contract is wrong
    INVALID = "INVALID"  #: Toss refused the request as malformed (our bug)
    NOT_FOUND = "NOT_FOUND"  #: lookup: Toss has no payment for the orderId
