"""Pure policy functions: dunning dates, backoff, attempt identity, sanitising, the breaker."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from worker.breaker import SetupBreaker
from worker.dunning import (
    card_deadline,
    next_toss_day_start,
    reconcile_delay_seconds,
    soft_decline_retry_at,
)
from worker.retry_policy import backoff_seconds, idempotency_key_for, key_is_spent
from worker.sanitize import sanitize_response

DAY = 86400
SCHEDULE = [DAY, 3 * DAY, 5 * DAY]
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_backoff_without_jitter_is_exact() -> None:
    delays = [backoff_seconds(n, base=1, cap=8) for n in range(1, 6)]
    assert delays == [1, 2, 4, 8, 8]


def test_backoff_jitter_is_pinned_by_rng() -> None:
    a = [backoff_seconds(3, base=5, cap=300, jitter=True, rng=random.Random(7)) for _ in "ab"]
    assert a[0] == a[1] and 10 <= a[0] <= 20


def test_soft_decline_dates_are_anchored_on_first_failure() -> None:
    late = T0 + timedelta(days=2)  # the first retry ran a day late
    at = [
        soft_decline_retry_at(
            first_failure_at=T0, decline_count=n, schedule_seconds=SCHEDULE, now=late
        )  # fmt: skip
        for n in (1, 2, 3, 4)
    ]
    assert at == [late, T0 + timedelta(days=4), T0 + timedelta(days=9), None]
    assert card_deadline(T0, SCHEDULE) == T0 + timedelta(days=9)


def test_daily_limit_waits_for_korean_midnight() -> None:
    # 23:30 KST -> 00:00 KST next day; 00:30 KST -> 00:00 KST of the day after.
    assert next_toss_day_start(datetime(2026, 3, 2, 14, 30, tzinfo=UTC)) == datetime(
        2026, 3, 2, 15, 0, tzinfo=UTC
    )
    assert next_toss_day_start(datetime(2026, 3, 2, 15, 30, tzinfo=UTC)) == datetime(
        2026, 3, 3, 15, 0, tzinfo=UTC
    )
    at = soft_decline_retry_at(first_failure_at=T0, decline_count=1, schedule_seconds=[60],
                               now=T0, daily_limit=True)  # fmt: skip
    assert at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_reconcile_ladder_repeats_last_rung() -> None:
    ladder = [15, 60, 300, 3600, DAY]
    assert [reconcile_delay_seconds(n, ladder) for n in range(7)] == ladder + [DAY, DAY]


def test_attempt_identity_rule() -> None:
    assert idempotency_key_for("bb-1-20260302010000", 2) == "bb-1-20260302010000-a2"
    assert not key_is_spent(outcome="UNKNOWN", http_status=None)  # timeout / reset
    assert not key_is_spent(outcome="UNKNOWN", http_status=409)  # still processing
    assert not key_is_spent(outcome="STARTED", http_status=None)  # crash mid-call
    assert not key_is_spent(outcome="TRANSIENT", http_status=None)  # connect refused
    assert key_is_spent(outcome="UNKNOWN", http_status=500)
    assert key_is_spent(outcome="TRANSIENT", http_status=429)
    assert key_is_spent(outcome="DECLINED", http_status=403)


def test_sanitize_drops_billing_key_and_masks_cards() -> None:
    body = {
        "paymentKey": "pk_1", "status": "DONE", "totalAmount": 9900, "billingKey": "SECRETKEY=",
        "card": {"number": "4330123412341234", "issuerCode": "61", "billingKey": "SECRETKEY="},
        "message": "echo SECRETKEY= 4330123412341234", "receipt": {"url": "https://r"},
        "failure": None, "unknownField": "SECRETKEY=",
    }  # fmt: skip
    clean = sanitize_response(body, secrets=["SECRETKEY="])
    assert "SECRETKEY" not in str(clean) and "4330123412341234" not in str(clean)
    assert clean is not None
    assert clean["card"]["number"] == "433012**********"
    assert clean["receipt"] == {"url": "https://r"} and clean["paymentKey"] == "pk_1"


def test_breaker_concurrent_failures_are_one_outage() -> None:
    """Calls that were in flight when the breaker opened fail the same way: they must not each
    double the pause (N threads would otherwise push it to the 10-minute cap at once)."""
    b = SetupBreaker(base_seconds=60, cap_seconds=600)
    first = b.record_setup_error(T0, "UNAUTHORIZED_KEY")
    for _ in range(5):
        assert b.record_setup_error(T0 + timedelta(seconds=1), "UNAUTHORIZED_KEY") == first


def test_breaker_opens_probes_and_closes() -> None:
    b = SetupBreaker(base_seconds=60, cap_seconds=600)
    assert b.blocked_until(T0) is None
    assert b.record_setup_error(T0, "UNAUTHORIZED_KEY") == T0 + timedelta(seconds=60)
    assert b.blocked_until(T0 + timedelta(seconds=30)) == T0 + timedelta(seconds=60)
    later = T0 + timedelta(seconds=61)
    assert b.blocked_until(later) is None  # the probe
    assert b.blocked_until(later) is not None  # others wait for the probe
    assert b.record_setup_error(later, "UNAUTHORIZED_KEY") == later + timedelta(seconds=120)
    b.record_ok()
    assert b.blocked_until(later) is None and not b.is_open
