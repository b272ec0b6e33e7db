"""Scenarios 4 and 5: Redis restarted with its data gone while charges are queued; the
database unreachable for a while (a TCP proxy in front of PostgreSQL is cut)."""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

from billbeat.embedded_redis import EmbeddedRedis
from models import ChargeStatus
from tests.chaos.harness import Chaos
from tests.chaos.proxy import FaultProxy

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.postgres]


def _pending(chaos: Chaos) -> int:
    return sum(1 for c in chaos.charge_rows() if c.status == ChargeStatus.PENDING)


def test_redis_restarted_empty_while_charges_queued(chaos: Chaos, tmp_path: Path) -> None:
    started = chaos.clock_seconds()
    data_dir = tmp_path / "redis"
    redis_server = EmbeddedRedis(data_dir)
    redis_server.start()
    chaos.procs.env["REDIS_URL"] = redis_server.url
    try:
        chaos.seed()
        chaos.procs.worker(concurrency=8)
        chaos.procs.beat("beat")
        chaos.wait_cycles(1)
        chaos.procs.stop("worker")  # charges now queue up in Redis
        n = chaos.size.subscriptions
        chaos.wait(lambda: _pending(chaos) >= n, 60, "a cycle queued with no worker")
        redis_server.stop()
        shutil.rmtree(data_dir)  # its data is gone
        redis_server = EmbeddedRedis(data_dir, port=redis_server.port)
        redis_server.start()
        lost = _pending(chaos)
        chaos.procs.worker("worker-after", concurrency=8)
        chaos.wait_cycles(chaos.size.cycles + 2, timeout_seconds=90)
        chaos.stop_cycles()
        chaos.settle()
    finally:
        chaos.procs.stop_all()
        redis_server.stop()
    figures = chaos.audit(started, note=f"{lost} queued messages lost")
    assert figures.ok, figures


def test_database_unreachable_for_a_while(chaos: Chaos, pg_url: str) -> None:
    started = chaos.clock_seconds()
    pg_port = urlparse(pg_url.replace("postgresql+psycopg", "postgresql")).port or 5432
    proxy = FaultProxy(pg_port).start()
    chaos.procs.env["DATABASE_URL"] = pg_url.replace(f":{pg_port}/", f":{proxy.port}/")
    try:
        chaos.seed()  # the test itself talks to PostgreSQL directly
        chaos.procs.worker(concurrency=8)
        chaos.procs.beat("beat")
        chaos.wait_cycles(1)
        proxy.cut()
        cut_at = chaos.clock.now()
        outage = chaos.size.outage_seconds
        chaos.wait(lambda: (chaos.clock.now() - cut_at).total_seconds() >= outage,
                   outage + 10, "the database outage")  # fmt: skip
        assert chaos.procs.alive("worker") and chaos.procs.alive("beat"), "they kept running"
        before = chaos.cycles_created()
        proxy.restore()
        chaos.wait_cycles(before + chaos.size.cycles, timeout_seconds=90)
        assert chaos.procs.alive("worker") and chaos.procs.alive("beat")
        chaos.stop_cycles()
        chaos.settle(timeout_seconds=120)
    finally:
        chaos.procs.stop_all()
        proxy.stop()
    figures = chaos.audit(started, note=f"database cut {chaos.size.outage_seconds:.0f} s")
    assert figures.ok, figures
