"""The chaos harness: seed subscriptions, run real processes, stop the cycles, audit the ledger.

The audit is the invariant of every scenario (docs/guarantees.md): every due cycle charged
exactly once at Toss, and the database records exactly what Toss did.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from billbeat.service.cards import register_card
from billbeat.service.customers import create_customer
from billbeat.service.subscriptions import create_subscription
from models import Charge, ChargeStatus, Subscription
from models.crypto import BillingKeyCipher
from scheduler.clock import SystemClock
from scheduler.cycles import next_cycle_at
from tests.chaos.report import Figures, record
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import ProcessSet
from tests.helpers.wait import wait_until
from toss import TossClient

__all__ = ["Chaos", "Size", "size_for_run", "GOOD_CARD", "TZ", "FULL"]

GOOD_CARD = "4330123412341234"
TZ = "Asia/Seoul"
#: ``BILLBEAT_CHAOS_FULL=1`` (``make chaos``) selects the full size; CI runs the small one.
FULL = os.environ.get("BILLBEAT_CHAOS_FULL", "") not in ("", "0")
OPEN = [
    ChargeStatus.PENDING,
    ChargeStatus.PROCESSING,
    ChargeStatus.RETRY_SCHEDULED,
    ChargeStatus.UNKNOWN,
]


@dataclass(frozen=True)
class Size:
    subscriptions: int
    cycles: int  #: cycles to let run (at least) before the cycles are stopped
    period_seconds: int  #: the cron cycle length
    outage_seconds: float  #: how long an outage lasts (database, wrong key)

    @property
    def cron(self) -> str:
        return f"* * * * * */{self.period_seconds}"


def size_for_run() -> Size:
    if FULL:
        return Size(subscriptions=40, cycles=4, period_seconds=5, outage_seconds=30)
    return Size(subscriptions=6, cycles=2, period_seconds=3, outage_seconds=5)


@dataclass
class Chaos:
    """One scenario's world: PostgreSQL, a ProcessSet (worker/beat env), the sandbox."""

    engine: Engine
    procs: ProcessSet
    sandbox: SandboxHandle
    size: Size
    scenario: str
    sub_ids: list[int] = field(default_factory=list)
    clock: SystemClock = field(default_factory=SystemClock)

    @property
    def factory(self) -> sessionmaker[Session]:
        return sessionmaker(bind=self.engine, expire_on_commit=False)

    # ---- setup ----------------------------------------------------------------------------

    def seed(self, count: int | None = None, *, card: str = GOOD_CARD) -> list[int]:
        """``count`` customers with a card and a subscription on ``size.cron``."""
        cipher = BillingKeyCipher([self.procs.env["BILLBEAT_ENCRYPTION_KEY"]])
        ids = []
        with (
            TossClient(base_url=self.sandbox.url, secret_key=TEST_SECRET_KEY) as toss,
            self.factory() as s,
        ):
            for i in range(count or self.size.subscriptions):
                now = self.clock.now()
                customer = create_customer(s, email=f"chaos{i}@example.com", name=None, now=now)
                register_card(
                    s, customer_key=customer.customer_key, card_number=card, expiry_year="30",
                    expiry_month="12", identity_number="900101", toss=toss, cipher=cipher,
                    now=now,
                )  # fmt: skip
                sub = create_subscription(
                    s, customer_key=customer.customer_key, amount=1_000 + i,
                    order_name=f"Chaos {i}", cron=self.size.cron, timezone=TZ, now=now,
                )  # fmt: skip
                ids.append(sub.id)
        self.sub_ids += ids
        return ids

    # ---- observation -----------------------------------------------------------------------

    def charge_rows(self) -> list[Charge]:
        with self.factory() as s:
            return list(s.scalars(select(Charge).order_by(Charge.id)))

    def cycles_created(self) -> int:
        """The fewest CYCLE charge rows (any status) of any subscription."""
        with self.factory() as s:
            per_sub = dict(
                s.execute(
                    select(Charge.subscription_id, func.count())
                    .where(Charge.status != ChargeStatus.SKIPPED)
                    .group_by(Charge.subscription_id)
                ).all()
            )
        return min((per_sub.get(sid, 0) for sid in self.sub_ids), default=0)

    def wait_cycles(self, cycles: int, *, timeout_seconds: float | None = None) -> None:
        timeout = timeout_seconds or cycles * self.size.period_seconds + 60
        self.wait(lambda: self.cycles_created() >= cycles, timeout, f"{cycles} cycles created")

    def open_charges(self) -> int:
        with self.factory() as s:
            return int(s.scalar(select(func.count()).where(Charge.status.in_(OPEN))) or 0)

    def statuses(self) -> Counter[str]:
        with self.factory() as s:
            query = select(Subscription.status, func.count()).group_by(Subscription.status)
            rows = s.execute(query)
            return Counter({str(k): int(v) for k, v in rows})

    def wait(self, probe: Any, timeout_seconds: float, message: str) -> Any:
        """``wait_until`` that prints the processes' logs when it times out."""
        try:
            return wait_until(probe, timeout_seconds=timeout_seconds, interval_seconds=0.2,
                              message=message)  # fmt: skip
        except AssertionError:
            print(self.procs.all_logs())
            raise

    # ---- ending ----------------------------------------------------------------------------

    def stop_cycles(self) -> None:
        """No new cycles from now on (the subscriptions stay ACTIVE, so open charges are still
        charged, not skipped as a cancel would): next_charge_at moves a day ahead."""
        later = self.clock.now() + timedelta(days=1)
        with self.factory() as s:
            s.execute(
                update(Subscription)
                .where(Subscription.next_charge_at.is_not(None))
                .values(next_charge_at=later)
            )
            s.commit()

    def settle(self, timeout_seconds: float = 90) -> None:
        self.wait(lambda: self.open_charges() == 0, timeout_seconds, "every charge settled")

    def audit(self, started_at: float, *, note: str = "") -> Figures:
        """Compare the sandbox's ledger with the database; record and return the figures."""
        charges = self.charge_rows()
        ledger = self.sandbox.ledger()
        by_order = Counter(p["orderId"] for p in ledger)
        payments = {p["orderId"]: p for p in ledger}
        duplicates = sum(n - 1 for n in by_order.values() if n > 1)
        expected = [c for c in charges if c.status != ChargeStatus.SKIPPED]
        done = {c.order_id: c for c in charges if c.status == ChargeStatus.DONE}
        missing = sum(1 for c in expected if c.status != ChargeStatus.DONE)
        gaps = self._cycle_gaps(charges)
        disagree = sum(
            1
            for oid, c in done.items()
            if oid not in payments
            or payments[oid]["paymentKey"] != c.payment_key
            or payments[oid]["totalAmount"] != c.amount
        )
        disagree += sum(1 for oid in payments if oid not in done)
        figures = Figures(
            scenario=self.scenario,
            subscriptions=len(self.sub_ids),
            cycles=sum(1 for c in charges if c.source == "CYCLE"),
            expected=len(expected) + gaps,
            payments=len(ledger),
            duplicates=duplicates,
            missing=missing + gaps,
            disagreeing=disagree,
            seconds=round(self.clock_seconds() - started_at, 1),
            note=note,
        )
        record(figures)
        if not figures.ok:
            print(self.procs.all_logs())
            bad = [(c.id, c.status, c.failure_code) for c in expected if c.status != "DONE"]
            print("not DONE:", bad[:20])
        return figures

    def _cycle_gaps(self, charges: list[Charge]) -> int:
        """Cycles with no charge row at all between a subscription's first and last row."""
        gaps = 0
        for sid in self.sub_ids:
            cycles = sorted(c.cycle_at for c in charges if c.subscription_id == sid)
            for earlier, later in zip(cycles, cycles[1:], strict=False):
                at = next_cycle_at(self.size.cron, TZ, earlier)
                while at < later and gaps < 10_000:
                    gaps += 1
                    at = next_cycle_at(self.size.cron, TZ, at)
        return gaps

    @staticmethod
    def clock_seconds() -> float:
        return SystemClock().now().timestamp()
