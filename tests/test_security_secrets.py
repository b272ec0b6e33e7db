"""No secret in clear anywhere: a full charge cycle with DEBUG logging, then every log, the task
messages captured in Redis while queued, the task events (what Flower shows), a database dump
and the CLI's outputs are searched for the secret key, billing keys, card numbers and the
encryption key."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import Engine, select

from billbeat.embedded_redis import free_port
from models import BillingKey
from models.crypto import BillingKeyCipher
from tests.chaos.harness import Chaos, Size
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import BIN
from tests.helpers.wait import wait_until
from tests.helpers.world import chaos_world

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

CARDS = ["4330123412341234", "4000000000003001"]  # the second declines once, then succeeds


@pytest.fixture
def world(
    pg_engine: Engine, pg_url: str, redis_url: str, sandbox: SandboxHandle, tmp_path: Path
) -> Iterator[Chaos]:
    yield from chaos_world(
        pg_engine=pg_engine, pg_url=pg_url, redis_url=redis_url, sandbox=sandbox,
        log_dir=tmp_path, scenario="secrets",
        size=Size(subscriptions=2, cycles=2, period_seconds=3, outage_seconds=0),
        BILLBEAT_LOG_LEVEL="DEBUG", BILLBEAT_RETRY_SCHEDULE="2s,2s",
    )  # fmt: skip


def _secrets(world: Chaos) -> dict[str, str]:
    env = world.procs.env
    cipher = BillingKeyCipher([env["BILLBEAT_ENCRYPTION_KEY"]])
    with world.factory() as s:
        keys = [cipher.decrypt(k) for k in s.scalars(select(BillingKey.billing_key_encrypted))]
    basic = base64.b64encode(f"{TEST_SECRET_KEY}:".encode()).decode()
    found = {f"billing key {i}": k for i, k in enumerate(keys)}
    found |= {f"card {c}": c for c in CARDS}
    found |= {"secret key": TEST_SECRET_KEY, "basic auth": basic,
              "encryption key": env["BILLBEAT_ENCRYPTION_KEY"]}  # fmt: skip
    assert len(keys) == len(CARDS)
    return found


def _leaks(where: str, text: str, secrets: dict[str, str]) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value in text]


def _queued_messages(redis_url: str) -> str:
    """Every message waiting in Redis, raw and with its base64 body decoded."""
    client = redis.Redis.from_url(redis_url)
    out = []
    for key in client.keys("*"):
        if client.type(key) == b"list":
            for raw in client.lrange(key, 0, -1):
                out.append(raw.decode(errors="replace"))
                try:
                    body = json.loads(raw)["body"]
                    out.append(base64.b64decode(body).decode(errors="replace"))
                except (ValueError, KeyError, TypeError):
                    pass
    client.close()
    return "\n".join(out)


def _cli(world: Chaos, *args: str) -> str:
    env = {**world.procs.env, "PATH": f"{BIN}:/usr/bin:/bin"}
    proc = subprocess.run([str(BIN / "billbeat"), *args], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    return proc.stdout + proc.stderr


def _flower_tasks(port: int) -> str:
    def fetch() -> Any:
        try:
            resp = requests.get(f"http://127.0.0.1:{port}/api/tasks", timeout=2)
        except requests.RequestException:
            return None
        return resp.text if resp.ok and resp.text.strip() not in ("", "{}") else None

    return str(wait_until(fetch, timeout_seconds=30, interval_seconds=0.5, message="flower"))


def test_no_secret_in_logs_messages_events_dump_or_cli(world: Chaos, pg_url: str) -> None:
    procs = world.procs
    for card in CARDS:
        world.seed(1, card=card)
    secrets = _secrets(world)
    procs.start("beat", [str(BIN / "celery"), "-A", "worker", "beat", "--loglevel", "DEBUG"])
    world.wait(lambda: world.cycles_created() >= 1, 60, "first cycle created")
    queued = world.wait(lambda: (q := _queued_messages(procs.env["REDIS_URL"])).count(
        "billbeat.charge") >= 2 and q, 30, "first cycle queued")  # fmt: skip
    flower_port = free_port()
    procs.env["FLOWER_UNAUTHENTICATED_API"] = "true"  # Flower 2 closes its API without auth
    procs.start("flower", [str(BIN / "celery"), "-A", "worker", "flower",
                           "--address=127.0.0.1", f"--port={flower_port}"])  # fmt: skip
    procs.start("worker", [str(BIN / "celery"), "-A", "worker", "worker", "--pool", "threads",
                           "--concurrency", "4", "--loglevel", "DEBUG", "-E", "-n", "sec@%h",
                           "--without-mingle", "--without-gossip"])  # fmt: skip
    world.wait_cycles(3)
    world.stop_cycles()
    world.wait(lambda: world.sandbox.ledger() and world.open_charges() == 0, 90, "settled")
    flower = _flower_tasks(flower_port)
    assert "billbeat.charge" in flower
    dump = ""
    if shutil.which("pg_dump"):
        plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run(["pg_dump", "--data-only", plain], capture_output=True, text=True,
                              timeout=60, check=True).stdout  # fmt: skip
        assert "COPY public.billing_keys" in dump
    cli = "\n".join(
        _cli(world, *args)
        for args in (["status", "--json"], ["charge", "list", "--json"],
                     ["subscription", "list", "--json"], ["charge", "show", "1", "--json"],
                     ["card", "register", "--customer-key", "cus_nobody", "--card-number",
                      CARDS[0], "--expiry-year", "30", "--expiry-month", "12",
                      "--identity-number", "900101"])
    )  # fmt: skip
    logs = {p.name: p.read_text(errors="replace") for p in procs.log_dir.glob("*.log")}
    assert "DEBUG" in logs["worker.log"], "the worker really logged at DEBUG"
    leaks = _leaks("queued messages", queued, secrets) + _leaks("flower", flower, secrets)
    leaks += _leaks("pg_dump", dump, secrets) + _leaks("cli", cli, secrets)
    for name, text in logs.items():
        leaks += _leaks(name, text, secrets)
    assert leaks == []
    # The declining card went through a decline and a retry: error paths were exercised too.
    assert '"REJECT_CARD_PAYMENT"' in dump or "REJECT_CARD_PAYMENT" in logs["worker.log"]
