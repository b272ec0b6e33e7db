"""End to end: real celery worker and two real beat processes, PostgreSQL, Redis, the sandbox.

50 subscriptions on a 5-second cycle run for a few cycles; then the sandbox's ledger must show
exactly one approved payment per subscription per cycle, and the database must agree with it
charge by charge.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from billbeat.service.cards import register_card
from billbeat.service.customers import create_customer
from billbeat.service.subscriptions import cancel_subscription, create_subscription
from models import Charge, ChargeAttempt, ChargeStatus
from models.crypto import BillingKeyCipher, generate_key
from scheduler.clock import SystemClock
from scheduler.cycles import next_cycle_at
from tests.fixtures.db import truncate_all
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import ProcessSet
from tests.helpers.wait import wait_until
from toss import TossClient

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SUBSCRIPTIONS = 50
CRON = "* * * * * */5"
CYCLES = 3


@pytest.fixture
def procs(
    pg_engine: Engine, pg_url: str, redis_url: str, sandbox: SandboxHandle, tmp_path: Path
) -> Iterator[ProcessSet]:
    key = generate_key()
    env = {
        "DATABASE_URL": pg_url,
        "REDIS_URL": redis_url,
        "TOSS_API_BASE": sandbox.url,
        "TOSS_SECRET_KEY": TEST_SECRET_KEY,
        "BILLBEAT_ENCRYPTION_KEY": key,
        "BILLBEAT_TICK_SECONDS": "1",
        "BILLBEAT_DB_POOL_SIZE": "5",
    }
    ps = ProcessSet(env=env, log_dir=tmp_path)
    truncate_all(pg_engine)
    yield ps
    ps.stop_all()
    print(ps.all_logs())  # pytest shows it only when the test failed
    truncate_all(pg_engine)  # the session's PostgreSQL database is shared with later tests


def _seed(factory: sessionmaker[Session], toss: TossClient, cipher: BillingKeyCipher) -> list[int]:
    clock = SystemClock()
    ids = []
    with factory() as s:
        for i in range(SUBSCRIPTIONS):
            customer = create_customer(s, email=f"e2e{i}@example.com", name=None, now=clock.now())
            register_card(
                s, customer_key=customer.customer_key, card_number="4330123412341234",
                expiry_year="30", expiry_month="12", identity_number="900101",
                toss=toss, cipher=cipher, now=clock.now(),
            )  # fmt: skip
            sub = create_subscription(
                s, customer_key=customer.customer_key, amount=1_000 + i, order_name=f"E2E {i}",
                cron=CRON, timezone="Asia/Seoul", now=clock.now(),
            )  # fmt: skip
            ids.append(sub.id)
    return ids


def test_fifty_subscriptions_two_beats_exactly_one_payment_per_cycle(
    pg_engine: Engine, procs: ProcessSet, sandbox: SandboxHandle
) -> None:
    factory = sessionmaker(bind=pg_engine, expire_on_commit=False)
    cipher = BillingKeyCipher([procs.env["BILLBEAT_ENCRYPTION_KEY"]])
    with TossClient(base_url=sandbox.url, secret_key=TEST_SECRET_KEY) as toss:
        sub_ids = _seed(factory, toss, cipher)

    procs.worker(concurrency=16)
    procs.beat("beat-1")
    procs.beat("beat-2")

    def cycles_done() -> int:
        with factory() as s:
            per_sub = s.execute(
                select(Charge.subscription_id, func.count())
                .where(Charge.status == ChargeStatus.DONE)
                .group_by(Charge.subscription_id)
            ).all()
        return min((n for _, n in per_sub), default=0) if len(per_sub) == SUBSCRIPTIONS else 0

    wait_until(lambda: cycles_done() >= CYCLES, timeout_seconds=90, message="3 cycles DONE")
    # Stop creating cycles, then let everything in flight settle.
    now = SystemClock().now()
    with factory() as s:
        for sid in sub_ids:
            cancel_subscription(s, sid, now=now)
    procs.stop("beat-1")
    procs.stop("beat-2")

    def settled() -> bool:
        with factory() as s:
            open_ = s.scalar(
                select(func.count()).where(
                    Charge.status.in_([ChargeStatus.PENDING, ChargeStatus.PROCESSING])
                )
            )
        return open_ == 0

    wait_until(settled, timeout_seconds=60, message="no charge left in flight")

    with factory() as s:
        charges = s.scalars(select(Charge).order_by(Charge.id)).all()
        attempts = Counter(
            s.scalars(select(ChargeAttempt.charge_id).where(ChargeAttempt.call == "CHARGE")).all()
        )
    ledger = sandbox.ledger()
    by_order = Counter(p["orderId"] for p in ledger)
    done = [c for c in charges if c.status == ChargeStatus.DONE]

    assert max(by_order.values()) == 1, "an orderId was approved twice"
    assert set(by_order) == {c.order_id for c in done}, "ledger and database disagree"
    payments = {p["orderId"]: p for p in ledger}
    for c in done:
        assert payments[c.order_id]["paymentKey"] == c.payment_key
        assert payments[c.order_id]["totalAmount"] == c.amount
        assert attempts[c.id] == 1, f"charge {c.id} was sent {attempts[c.id]} times"
    # Every cycle between a subscription's first and last charge has exactly one charge row.
    for sid in sub_ids:
        cycles = sorted(c.cycle_at for c in charges if c.subscription_id == sid)
        assert len(cycles) >= CYCLES
        assert len(set(cycles)) == len(cycles)
        for earlier, later in zip(cycles, cycles[1:], strict=False):
            assert next_cycle_at(CRON, "Asia/Seoul", earlier) == later, "a cycle was missed"
    statuses = Counter(c.status for c in charges)
    assert set(statuses) <= {ChargeStatus.DONE, ChargeStatus.SKIPPED}, statuses
    assert statuses[ChargeStatus.DONE] == len(ledger) >= SUBSCRIPTIONS * CYCLES
