"""Scenarios 1 and 7: a worker SIGKILLed mid-charge (also between Toss's answer and the
database write), and the same charge task delivered several times at the same moment."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from models import Charge, ChargeAttempt, ChargeStatus
from tests.chaos.harness import FULL, Chaos
from tests.chaos.proxy import FaultProxy
from worker import names

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.postgres]


def _charge_attempts(chaos: Chaos) -> Counter[int]:
    with chaos.factory() as s:
        rows = s.scalars(select(ChargeAttempt.charge_id).where(ChargeAttempt.call == "CHARGE"))
        return Counter(rows)


def _processing(chaos: Chaos) -> int:
    return sum(1 for c in chaos.charge_rows() if c.status == ChargeStatus.PROCESSING)


def test_worker_sigkilled_mid_charge(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    proxy = FaultProxy(urlparse(chaos.sandbox.url).port or 80).start()
    chaos.procs.env["TOSS_API_BASE"] = f"http://127.0.0.1:{proxy.port}"
    kills_after_answer = 3 if FULL else 1
    try:
        chaos.seed()
        chaos.procs.worker("worker-0", concurrency=4)
        chaos.procs.beat("beat")
        generation = 0
        # (a) Toss answered (and recorded the payment); the worker dies before reading it.
        for _ in range(kills_after_answer):
            name = f"worker-{generation}"
            pid = chaos.procs.procs[name].pid
            killed = threading.Event()

            def kill(pid: int = pid, killed: threading.Event = killed) -> None:
                os.killpg(pid, signal.SIGKILL)
                killed.set()

            proxy.arm_charge_response(1, kill)
            chaos.wait(killed.is_set, 60, "a charge answered, worker killed")
            chaos.procs.stop(name)
            generation += 1
            chaos.procs.worker(f"worker-{generation}", concurrency=4)
        # (b) Calls in flight (Toss is slow): the worker dies while waiting for the answer.
        chaos.sandbox.set_faults(latencyMs=1500)
        chaos.wait(lambda: _processing(chaos) > 0, 60, "a charge in flight")
        chaos.procs.stop(f"worker-{generation}", sig=signal.SIGKILL)
        chaos.sandbox.set_faults(latencyMs=0)
        generation += 1
        chaos.procs.worker(f"worker-{generation}", concurrency=4)
        chaos.wait_cycles(chaos.size.cycles + 2)
        chaos.stop_cycles()
        chaos.settle(timeout_seconds=120)
    finally:
        proxy.stop()
    figures = chaos.audit(started, note=f"{kills_after_answer + 1} SIGKILLs")
    assert proxy.held == kills_after_answer
    assert figures.ok, figures
    with chaos.factory() as s:
        lookups = s.scalar(select(ChargeAttempt.id).where(ChargeAttempt.call == "LOOKUP").limit(1))
    assert lookups is not None, "the killed charges were reconciled by orderId"


def test_same_charge_delivered_at_once(chaos: Chaos) -> None:
    from worker.app import make_app

    started = chaos.clock_seconds()
    app = make_app(broker_url=chaos.procs.env["REDIS_URL"])
    published: set[int] = set()

    def publish_twice_more() -> bool:
        with chaos.factory() as s:
            ids = s.scalars(select(Charge.id).where(Charge.status == ChargeStatus.PENDING))
            fresh = [i for i in ids if i not in published]
        with app.producer_or_acquire() as producer:
            for charge_id in fresh:
                for _ in range(2):  # with beat's own message: three deliveries at once
                    app.send_task(names.CHARGE, args=(charge_id,), producer=producer)
                published.add(charge_id)
        return False

    try:
        chaos.seed()
        chaos.procs.beat("beat")  # charges are created and queued; no worker yet
        chaos.wait(lambda: chaos.cycles_created() >= 1, 60, "first cycle queued")
        publish_twice_more()
        chaos.procs.worker(concurrency=8)
        for cycle in range(2, chaos.size.cycles + 2):
            chaos.wait(lambda c=cycle: publish_twice_more() or chaos.cycles_created() >= c,
                       60, f"cycle {cycle}")  # fmt: skip
        publish_twice_more()
        chaos.stop_cycles()
        chaos.settle()
    finally:
        app.close()
    figures = chaos.audit(started, note=f"{len(published)} charges delivered 3x")
    assert figures.ok, figures
    attempts = _charge_attempts(chaos)
    assert published and all(attempts[i] == 1 for i in published), attempts
