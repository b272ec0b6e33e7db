"""The README's manual triggers, run as an operator would: `celery -A worker call ...` against a
running worker subprocess (real Redis, a SQLite file, the sandbox over HTTP)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from billbeat.service.cards import register_card
from billbeat.service.customers import create_customer
from billbeat.service.subscriptions import create_subscription
from models import Charge, Subscription
from models.crypto import BillingKeyCipher, generate_key
from models.db import make_engine
from models.migrate import upgrade
from scheduler.clock import SystemClock
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import BIN, REPO, ProcessSet
from tests.helpers.wait import wait_until
from toss import TossClient

pytestmark = pytest.mark.integration


class Ops:
    """The worker subprocess plus helpers to seed rows and call tasks through the celery CLI."""

    def __init__(self, procs: ProcessSet, engine: Engine, sandbox: SandboxHandle) -> None:
        self.procs = procs
        self.factory = sessionmaker(bind=engine, expire_on_commit=False)
        self.sandbox = sandbox
        self.cipher = BillingKeyCipher([procs.env["BILLBEAT_ENCRYPTION_KEY"]])
        self.clock = SystemClock()

    def subscription(self, card: str, *, cron: str = "0 9 1 * *") -> int:
        with self.factory() as s, TossClient(base_url=self.sandbox.url,
                                             secret_key=TEST_SECRET_KEY) as toss:  # fmt: skip
            customer = create_customer(s, email="ops@example.com", name=None, now=self.clock.now())
            register_card(
                s, customer_key=customer.customer_key, card_number=card, expiry_year="30",
                expiry_month="12", identity_number="900101", toss=toss, cipher=self.cipher,
                now=self.clock.now(),
            )  # fmt: skip
            sub = create_subscription(
                s, customer_key=customer.customer_key, amount=5_000, order_name="Ops plan",
                cron=cron, now=self.clock.now(),
            )  # fmt: skip
            return sub.id

    def call(self, task: str, *args: int) -> str:
        cmd = [str(BIN / "celery"), "-A", "worker", "call", task]
        if args:
            cmd += ["--args", f"[{', '.join(str(a) for a in args)}]"]
        env = {**os.environ, **self.procs.env}
        out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()  # the task id

    def charges(self, sub_id: int) -> list[Charge]:
        with self.factory() as s:
            return list(s.scalars(select(Charge).where(Charge.subscription_id == sub_id)))

    def charge_status(self, sub_id: int) -> list[str]:
        return [c.status for c in self.charges(sub_id)]


@pytest.fixture
def ops(redis_url: str, sandbox: SandboxHandle, tmp_path: Path) -> Iterator[Ops]:
    db = tmp_path / "ops.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    env = {
        "DATABASE_URL": f"sqlite:///{db}",
        "REDIS_URL": redis_url,
        "TOSS_API_BASE": sandbox.url,
        "TOSS_SECRET_KEY": TEST_SECRET_KEY,
        "BILLBEAT_ENCRYPTION_KEY": generate_key(),
        "BILLBEAT_RETRY_SCHEDULE": "1d",
        "TOSS_CHARGE_READ_TIMEOUT_SECONDS": "2",
    }
    procs = ProcessSet(env=env, log_dir=tmp_path)
    procs.worker(concurrency=4)
    try:
        yield Ops(procs, engine, sandbox)
    finally:
        procs.stop_all()
        engine.dispose()
        print(procs.all_logs())  # pytest shows it only when the test failed


def test_charge_subscription_now(ops: Ops) -> None:
    sub = ops.subscription("4330123412341234")
    assert ops.call("billbeat.charge_subscription_now", sub)
    wait_until(lambda: ops.charge_status(sub) == ["DONE"], timeout_seconds=30,
               message="off-cycle charge DONE")  # fmt: skip
    (charge,) = ops.charges(sub)
    assert charge.source == "MANUAL"
    assert [p["orderId"] for p in ops.sandbox.ledger()] == [charge.order_id]


def test_retry_charge_now_after_a_decline(ops: Ops) -> None:
    sub = ops.subscription("4000000000003001")  # declines the first charge, then succeeds
    ops.call("billbeat.charge_subscription_now", sub)
    wait_until(lambda: ops.charge_status(sub) == ["RETRY_SCHEDULED"], timeout_seconds=30,
               message="first attempt declined")  # fmt: skip
    (charge,) = ops.charges(sub)
    assert charge.next_attempt_at is not None
    assert charge.next_attempt_at > ops.clock.now() + timedelta(hours=20)  # the 1d schedule
    ops.call("billbeat.retry_charge_now", charge.id)
    wait_until(lambda: ops.charge_status(sub) == ["DONE"], timeout_seconds=30,
               message="retried now")  # fmt: skip
    (charge,) = ops.charges(sub)
    assert charge.attempt_count == 2
    assert len(ops.sandbox.ledger(charge.order_id)) == 1


def test_reconcile_a_lost_response(ops: Ops) -> None:
    sub = ops.subscription("4330123412341234")
    ops.sandbox.set_faults(dropResponse=1)  # Toss charges, the answer never arrives
    ops.call("billbeat.charge_subscription_now", sub)
    wait_until(lambda: ops.charge_status(sub) == ["UNKNOWN"], timeout_seconds=30,
               message="outcome unknown")  # fmt: skip
    (charge,) = ops.charges(sub)
    ops.call("billbeat.reconcile", charge.id)
    wait_until(lambda: ops.charge_status(sub) == ["DONE"], timeout_seconds=30,
               message="reconciled DONE")  # fmt: skip
    ledger = ops.sandbox.ledger(charge.order_id)
    assert len(ledger) == 1
    assert ops.charges(sub)[0].payment_key == ledger[0]["paymentKey"]


def test_scheduler_pass(ops: Ops) -> None:
    sub = ops.subscription("4330123412341234", cron="* * * * * */2")
    # Nothing is due until the first cycle; then one pass creates the charge.
    wait_until(lambda: _due(ops, sub), timeout_seconds=10, message="first cycle due")
    ops.call("billbeat.scheduler_pass")
    # On a slow machine a cycle or two may pass before the pass runs: those are SKIPPED
    # (catch-up rule) and the latest one is charged.
    wait_until(lambda: "DONE" in ops.charge_status(sub), timeout_seconds=30,
               message="scheduled charge DONE")  # fmt: skip
    statuses = ops.charge_status(sub)
    assert statuses.count("DONE") == 1 and set(statuses) <= {"DONE", "SKIPPED"}, statuses


def _due(ops: Ops, sub_id: int) -> bool:
    with ops.factory() as s:
        next_at = s.get_one(Subscription, sub_id).next_charge_at
    return next_at is not None and next_at <= ops.clock.now()
