"""A small real-process world on PostgreSQL for the security tests (the chaos harness's
``Chaos`` with its own environment), emptied before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from models.crypto import generate_key
from tests.chaos.harness import Chaos, Size
from tests.fixtures.db import truncate_all
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import ProcessSet

__all__ = ["chaos_world"]


def chaos_world(
    *,
    pg_engine: Engine,
    pg_url: str,
    redis_url: str,
    sandbox: SandboxHandle,
    log_dir: Path,
    size: Size,
    scenario: str,
    **env: str,
) -> Iterator[Chaos]:
    """Body of a fixture: yields the world, stops its processes and empties the database."""
    base = {
        "DATABASE_URL": pg_url, "REDIS_URL": redis_url, "TOSS_API_BASE": sandbox.url,
        "TOSS_SECRET_KEY": TEST_SECRET_KEY, "BILLBEAT_ENCRYPTION_KEY": generate_key(),
        "BILLBEAT_TICK_SECONDS": "1", "BILLBEAT_DB_POOL_SIZE": "3",
    }  # fmt: skip
    procs = ProcessSet(env={**base, **env}, log_dir=log_dir)
    truncate_all(pg_engine)
    try:
        yield Chaos(engine=pg_engine, procs=procs, sandbox=sandbox, size=size, scenario=scenario)
    finally:
        procs.stop_all()
        truncate_all(pg_engine)
