"""CeleryPublisher's messages run on a real ``celery -A worker worker`` (Redis, JSON, protocol 2).

A scheduler pass publishes real charges, which the worker charges at the sandbox, beside enough
other messages for several pipeline round trips (ids without a row: the worker answers MISSING).
Celery's event receiver, what Flower reads, sees one task-sent event per message from the
publisher and, from the worker, that very task id received and succeeded.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from billbeat.service.cards import register_card
from billbeat.service.customers import create_customer
from billbeat.service.subscriptions import create_subscription
from models import Charge
from models.crypto import BillingKeyCipher, generate_key
from models.db import make_engine, make_session_factory
from models.migrate import upgrade
from scheduler.clock import SystemClock
from scheduler.tick import ChargeScheduler
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import ProcessSet
from tests.helpers.wait import wait_until
from toss import TossClient
from worker import names
from worker.app import make_app
from worker.publish import PIPELINE_SIZE, CeleryPublisher

pytestmark = pytest.mark.integration

REAL = 3
#: Ids of no charge, enough for a second pipeline round trip.
MISSING = list(range(10_000_001, 10_000_001 + PIPELINE_SIZE + 50))


class EventLog:
    """Celery's ``EventReceiver`` on a thread, keeping every event of the test's Redis db."""

    def __init__(self, redis_url: str) -> None:
        self.app = make_app(broker_url=redis_url)
        self.events: list[dict[str, Any]] = []
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.app.connection_for_read() as conn:
            self._receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def start(self) -> None:
        """Start, and return once the receiver is subscribed (events are fire-and-forget)."""
        self._thread.start()

        def probe_seen() -> bool:
            with self.app.events.default_dispatcher() as dispatcher:
                dispatcher.send("test-probe")
            return any(e["type"] == "test-probe" for e in list(self.events))

        wait_until(probe_seen, timeout_seconds=15, interval_seconds=0.2, message="receiver up")

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e["type"] == kind]


@pytest.fixture
def procs(redis_url: str, sandbox: SandboxHandle, tmp_path: Path) -> Iterator[ProcessSet]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'publish.db'}",
        "REDIS_URL": redis_url,
        "TOSS_API_BASE": sandbox.url,
        "TOSS_SECRET_KEY": TEST_SECRET_KEY,
        "BILLBEAT_ENCRYPTION_KEY": generate_key(),
    }
    procs = ProcessSet(env=env, log_dir=tmp_path)
    yield procs
    procs.stop_all()
    print(procs.all_logs())  # pytest shows it only when the test failed


def _due_subscriptions(engine: Engine, procs: ProcessSet, sandbox: SandboxHandle) -> None:
    cipher = BillingKeyCipher([procs.env["BILLBEAT_ENCRYPTION_KEY"]])
    now = SystemClock().now()
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s, TossClient(base_url=sandbox.url, secret_key=TEST_SECRET_KEY) as toss:
        for i in range(REAL):
            customer = create_customer(s, email=f"pub{i}@example.com", name=None, now=now)
            register_card(
                s, customer_key=customer.customer_key, card_number="4330123412341234",
                expiry_year="30", expiry_month="12", identity_number="900101", toss=toss,
                cipher=cipher, now=now,
            )  # fmt: skip
            create_subscription(s, customer_key=customer.customer_key, amount=1_000 + i,
                                order_name=f"Publish {i}", cron="* * * * *", now=now)  # fmt: skip


def test_published_messages_run_on_a_real_worker_and_flower_sees_them(
    procs: ProcessSet, redis_url: str, sandbox: SandboxHandle
) -> None:
    engine = make_engine(procs.env["DATABASE_URL"])
    upgrade(engine)
    _due_subscriptions(engine, procs, sandbox)
    events = EventLog(redis_url)
    events.start()
    app = make_app(broker_url=redis_url)
    try:
        # The beat path: claim, commit, publish through CeleryPublisher (minutes ahead, so
        # every subscription's first cycle is due).
        sched = ChargeScheduler(make_session_factory(engine), CeleryPublisher(app))
        sched.tick(SystemClock().now() + timedelta(minutes=2))
        assert sched.last_pass.created == REAL
        CeleryPublisher(app).charge(MISSING)
        procs.worker(concurrency=8)
        total = REAL + len(MISSING)
        wait_until(lambda: len(events.of_type("task-succeeded")) >= total, timeout_seconds=120,
                   message="the worker ran every message")  # fmt: skip
    finally:
        events.stop()

    with make_session_factory(engine)() as s:
        rows = s.execute(select(Charge.id, Charge.status).where(Charge.status != "SKIPPED"))
        charges = rows.all()  # older missed minutes, if any, were recorded as SKIPPED
    assert [status for _, status in charges] == ["DONE"] * REAL
    assert len(sandbox.ledger()) == REAL

    sent = events.of_type("task-sent")
    assert len(sent) == total and {e["name"] for e in sent} == {names.CHARGE}
    args_of = {e["uuid"]: e["args"] for e in sent}
    assert len(args_of) == total  # one task id per message
    expected_args = [f"({i},)" for i in [cid for cid, _ in charges] + MISSING]
    assert sorted(args_of.values()) == sorted(expected_args)
    results = {e["uuid"]: e["result"] for e in events.of_type("task-succeeded")}
    assert results.keys() == args_of.keys()  # the worker ran exactly the ids we sent
    assert Counter(results.values()) == {"'DONE'": REAL, "'MISSING'": len(MISSING)}
    received = Counter(e["uuid"] for e in events.of_type("task-received"))
    assert received.keys() == args_of.keys() and set(received.values()) == {1}
    engine.dispose()
