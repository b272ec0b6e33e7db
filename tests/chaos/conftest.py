"""Fixtures of the chaos scenarios: a ``Chaos`` world per test, the figures table at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.chaos.harness import Chaos, Size, size_for_run
from tests.chaos.report import FIGURES, table
from tests.fixtures.sandbox import SandboxHandle
from tests.helpers.world import chaos_world

#: Short timeouts make a short lease: 2*1 + 2 + 3 + 2 = 9 s (worker/records.py lease_seconds).
FAST_SETTINGS = {
    "BILLBEAT_TICK_SECONDS": "1",
    "BILLBEAT_DB_POOL_SIZE": "5",
    "TOSS_CONNECT_TIMEOUT_SECONDS": "1",
    "TOSS_READ_TIMEOUT_SECONDS": "2",
    "TOSS_CHARGE_READ_TIMEOUT_SECONDS": "3",
    "BILLBEAT_LEASE_MARGIN_SECONDS": "2",
    "BILLBEAT_STALE_ENQUEUE_SECONDS": "8",
    "BILLBEAT_SWEEP_INTERVAL_SECONDS": "2",
    "BILLBEAT_RECONCILE_SCHEDULE": "1s,2s,4s",
    "BILLBEAT_SETUP_PAUSE_SECONDS": "10",
}


@pytest.fixture
def chaos_size() -> Size:
    return size_for_run()


@pytest.fixture
def chaos(
    request: pytest.FixtureRequest,
    pg_engine: Engine,
    pg_url: str,
    redis_url: str,
    sandbox: SandboxHandle,
    chaos_size: Size,
    tmp_path: Path,
) -> Iterator[Chaos]:
    yield from chaos_world(
        pg_engine=pg_engine, pg_url=pg_url, redis_url=redis_url, sandbox=sandbox,
        log_dir=tmp_path, size=chaos_size, scenario=request.node.name.removeprefix("test_"),
        **FAST_SETTINGS,
    )  # fmt: skip


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("chaos figures")
        terminalreporter.write_line(table(FIGURES))
