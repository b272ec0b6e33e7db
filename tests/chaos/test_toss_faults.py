"""Scenarios 2, 3 and 8: lost responses and read timeouts, 5xx answers for a while, and a
wrong secret key for a while."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import func, select

from models import Charge, ChargeAttempt, SubscriptionStatus
from tests.chaos.harness import Chaos
from tests.fixtures.sandbox import TEST_SECRET_KEY

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.postgres]


def _attempts(chaos: Chaos, **where: str) -> int:
    with chaos.factory() as s:
        query = select(func.count()).select_from(ChargeAttempt)
        for column, value in where.items():
            query = query.where(getattr(ChargeAttempt, column) == value)
        return int(s.scalar(query) or 0)


def test_response_lost_and_read_timeout(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    n = chaos.size.subscriptions
    chaos.seed()
    # Toss records the next n charges, then aborts the connection: the worker never knows.
    chaos.sandbox.set_faults(dropResponse=n)
    chaos.procs.worker(concurrency=8)
    chaos.procs.beat("beat")
    chaos.wait_cycles(1)
    # Then Toss is slower than the charge read timeout (3 s) for a cycle.
    chaos.sandbox.set_faults(latencyMs=4_000)
    chaos.wait_cycles(2, timeout_seconds=90)
    chaos.sandbox.set_faults(latencyMs=0)
    chaos.wait_cycles(chaos.size.cycles + 1, timeout_seconds=90)
    chaos.stop_cycles()
    chaos.settle(timeout_seconds=120)
    figures = chaos.audit(started, note="dropResponse + 4 s latency")
    assert figures.ok, figures
    assert _attempts(chaos, call="LOOKUP") >= n, "unknown outcomes were reconciled by orderId"
    assert _attempts(chaos, call="CHARGE", outcome="UNKNOWN") >= n


def test_toss_5xx_then_recovers(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    n = chaos.size.subscriptions
    chaos.seed()
    chaos.sandbox.set_faults(fail500=2 * n)  # 500 FAILED_INTERNAL_SYSTEM_PROCESSING
    chaos.procs.worker(concurrency=8)
    chaos.procs.beat("beat")
    chaos.wait_cycles(1)
    chaos.sandbox.set_faults(declineCode="PROVIDER_ERROR", declineCount=n)
    chaos.wait_cycles(chaos.size.cycles + 1, timeout_seconds=90)
    chaos.stop_cycles()
    chaos.settle(timeout_seconds=120)
    figures = chaos.audit(started, note="fail500 + PROVIDER_ERROR")
    assert figures.ok, figures
    assert _attempts(chaos, error_code="FAILED_INTERNAL_SYSTEM_PROCESSING") >= n
    assert _attempts(chaos, error_code="PROVIDER_ERROR") >= 1
    with chaos.factory() as s:  # a Toss outage is not the customer's decline
        assert s.scalar(select(func.max(Charge.decline_count))) == 0
    assert chaos.statuses().keys() == {SubscriptionStatus.ACTIVE}


def test_wrong_secret_key_for_a_while(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    chaos.seed()
    chaos.procs.env["TOSS_SECRET_KEY"] = "live_sk_wrong"
    # One thread, so the count of 401s below is exact (threads racing before the breaker
    # opens would each send one).
    chaos.procs.worker("worker-wrong-key", concurrency=1)
    chaos.procs.env["TOSS_SECRET_KEY"] = TEST_SECRET_KEY
    chaos.procs.beat("beat")
    chaos.wait(lambda: _attempts(chaos, error_code="UNAUTHORIZED_KEY") >= 1, 60, "a 401")
    outage_from = chaos.clock.now()

    def outage_over() -> bool:
        assert SubscriptionStatus.PAST_DUE not in chaos.statuses(), "nobody is PAST_DUE"
        return (chaos.clock.now() - outage_from).total_seconds() >= chaos.size.outage_seconds

    chaos.wait(outage_over, chaos.size.outage_seconds + 10, "the wrong-key period")
    assert chaos.sandbox.ledger() == [], "charging paused"
    # The breaker lets one probe through per pause (10 s, doubling): a handful of calls, not one
    # per charge and cycle.
    pause = float(chaos.procs.env["BILLBEAT_SETUP_PAUSE_SECONDS"])
    probes = 1 + math.ceil(math.log2(chaos.size.outage_seconds / pause + 1))
    assert 1 <= _attempts(chaos, error_code="UNAUTHORIZED_KEY") <= probes, "breaker"
    chaos.procs.stop("worker-wrong-key")
    chaos.procs.worker("worker", concurrency=8)
    # The charges wait for the breaker's reopen time (60 s after the 401), then all go through.
    chaos.wait_cycles(chaos.size.cycles + 1, timeout_seconds=120)
    chaos.stop_cycles()
    chaos.settle(timeout_seconds=150)
    figures = chaos.audit(started, note="UNAUTHORIZED_KEY for a while")
    assert figures.ok, figures
    assert chaos.statuses().keys() == {SubscriptionStatus.ACTIVE}
