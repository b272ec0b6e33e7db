"""Billing keys are encrypted at rest (a pg_dump holds no billing key, card number or secret),
and key rotation re-encrypts them online while a worker keeps charging."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from billbeat.service.keys import rotate_billing_keys
from models import BillingKey
from models.crypto import BillingKeyCipher, generate_key
from tests.chaos.harness import GOOD_CARD, Chaos, Size
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.world import chaos_world

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def world(
    pg_engine: Engine, pg_url: str, redis_url: str, sandbox: SandboxHandle, tmp_path: Path
) -> Iterator[Chaos]:
    yield from chaos_world(
        pg_engine=pg_engine, pg_url=pg_url, redis_url=redis_url, sandbox=sandbox,
        log_dir=tmp_path, scenario="at rest",
        size=Size(subscriptions=4, cycles=2, period_seconds=3, outage_seconds=0),
    )  # fmt: skip


def _dump(engine: Engine, pg_url: str) -> str:
    """pg_dump of the database when available, else every column of every table."""
    if shutil.which("pg_dump"):
        plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
        return subprocess.run(["pg_dump", plain], capture_output=True, text=True, timeout=60,
                              check=True).stdout  # fmt: skip
    with engine.connect() as conn:
        tables = conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))
        return "\n".join(str(conn.execute(text(f'SELECT * FROM "{t}"')).all()) for t in tables)


def test_rotation_while_charging_and_nothing_in_clear(world: Chaos, pg_url: str) -> None:
    old = world.procs.env["BILLBEAT_ENCRYPTION_KEY"]
    world.seed()
    new = generate_key()
    # Deploy step 1: the workers know both keys (new first: it encrypts, both decrypt).
    world.procs.env["BILLBEAT_ENCRYPTION_KEY"] = f"{new},{old}"
    world.procs.worker(concurrency=4)
    world.procs.beat("beat")
    world.wait_cycles(1)
    with world.factory() as s:
        before = {r.id: r.billing_key_encrypted for r in s.scalars(select(BillingKey))}
    plain_keys = [BillingKeyCipher([old]).decrypt(v) for v in before.values()]
    # Step 2, online: rewrite every row in small transactions while charges flow.
    rewritten = rotate_billing_keys(world.factory, BillingKeyCipher([new, old]), batch_rows=1)
    assert rewritten == len(before)
    cycles_at_rotation = world.cycles_created()
    world.wait_cycles(cycles_at_rotation + world.size.cycles)
    world.stop_cycles()
    world.settle()
    figures = world.audit(world.clock_seconds(), note="key rotated mid-run")
    assert figures.ok, figures
    with world.factory() as s:
        after = {r.id: r.billing_key_encrypted for r in s.scalars(select(BillingKey))}
    only_new = BillingKeyCipher([new])
    assert sorted(only_new.decrypt(v) for v in after.values()) == sorted(plain_keys)
    assert all(after[i] != before[i] for i in before), "every row was re-encrypted"
    dump = _dump(world.engine, pg_url)
    assert "billing_keys" in dump
    for secret in [*plain_keys, GOOD_CARD, TEST_SECRET_KEY, old, new]:
        assert secret not in dump
