"""Short-term retry policy as pure functions (STYLE G2): backoff and attempt identity.

Long waits (dunning days, reconcile ladder) are data in the database, computed by
worker/dunning.py; these functions only size the seconds-to-minutes waits and decide whether
the next send re-uses the previous idempotency key.
"""

from __future__ import annotations

import random

__all__ = [
    "TRANSIENT_BASE_SECONDS",
    "TRANSIENT_CAP_SECONDS",
    "SETUP_BASE_SECONDS",
    "SETUP_CAP_SECONDS",
    "backoff_seconds",
    "idempotency_key_for",
    "key_is_spent",
]

#: First wait after a transient refusal (429, connect failure), seconds.
TRANSIENT_BASE_SECONDS = 5.0
#: Longest wait between transient retries, seconds.
TRANSIENT_CAP_SECONDS = 300.0
#: First pause after a setup error (bad key, no contract), seconds.
SETUP_BASE_SECONDS = 60.0
#: Longest pause between setup probes, seconds.
SETUP_CAP_SECONDS = 600.0


def backoff_seconds(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: bool = False,
    rng: random.Random | None = None,
) -> float:
    """Exponential backoff: ``base * 2**(attempt-1)`` capped at ``cap`` (attempt >= 1).

    With ``jitter`` the result is drawn uniformly from [delay/2, delay] ("equal jitter"), so
    many charges refused together do not come back together; pass ``rng`` to pin it in tests.
    """
    exponent = max(attempt, 1) - 1
    delay: float = min(cap, base * (2 ** min(exponent, 32)))
    if jitter:
        draw = (rng or random.Random()).uniform(0.0, delay / 2)
        delay = delay / 2 + draw
    return delay


def idempotency_key_for(order_id: str, attempt_number: int) -> str:
    """The Idempotency-Key of one attempt: derived from stored identity, never random (G3)."""
    return f"{order_id}-a{attempt_number}"


def key_is_spent(*, outcome: str, http_status: int | None) -> bool:
    """Whether the next send of this charge needs a new attempt number (a new key).

    Toss replays the first response for a repeated key, so a key is spent once Toss gave a
    definitive answer (any HTTP response except 409 IDEMPOTENT_REQUEST_PROCESSING, which says
    "still running, ask again"). A send that got no answer (timeout, reset, refused) or died
    mid-call (STARTED) is re-sent verbatim with the same key: if it did reach Toss, the key
    makes Toss replay its answer instead of charging again.
    """
    if outcome not in {"STARTED", "UNKNOWN", "TRANSIENT"}:
        return True
    return http_status is not None and http_status != 409
