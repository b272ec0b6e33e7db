"""The `make run` path, as a newcomer runs it: no REDIS_URL, no TOSS_API_BASE, no DATABASE_URL.

`billbeat run` (what `make run` calls after installing) must bring up the embedded Redis, the
sandbox, worker, beat and Flower within a minute; a demo charge reaches DONE and a declining card
reaches RETRY_SCHEDULED; Ctrl-C leaves no process behind; a second run resumes the same database
without seeding again.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests

from billbeat.embedded_redis import free_port
from tests.helpers.procs import BIN, REPO
from tests.helpers.wait import wait_until

pytestmark = pytest.mark.integration

#: Variables that would make `make run` use outside services instead of embedded ones.
_OUTSIDE = (
    "REDIS_URL",
    "TOSS_API_BASE",
    "DATABASE_URL",
    "TOSS_SECRET_KEY",
    "BILLBEAT_ENCRYPTION_KEY",
    "BILLBEAT_RETRY_SCHEDULE",
    "BILLBEAT_TICK_SECONDS",
)


class Run:
    def __init__(self, var: Path, flower_port: int) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _OUTSIDE}
        env.update(BILLBEAT_VAR_DIR=str(var), FLOWER_PORT=str(flower_port))
        self.log = var.parent / f"run-{len(list(var.parent.glob('run-*.log')))}.log"
        self.db = var / "billbeat.db"
        self.flower = f"http://127.0.0.1:{flower_port}"
        with self.log.open("wb") as out:
            # Its own session: SIGINT to the group is what Ctrl-C in a terminal does.
            self.proc = subprocess.Popen(
                [str(BIN / "billbeat"), "run"], cwd=REPO, env=env,
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def query(self, sql: str) -> list[tuple[object, ...]]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db, timeout=5) as conn:
            try:
                return list(conn.execute(sql))
            except sqlite3.OperationalError:  # not migrated yet
                return []

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def ctrl_c(self) -> list[psutil.Process]:
        children = self.descendants()
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=30)
        return children


@pytest.fixture
def var(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "var"
    yield path
    # Belt and braces: nothing may outlive the test even if it failed half-way.
    for proc in psutil.process_iter(["cmdline"]):
        if str(path) in " ".join(proc.info["cmdline"] or []):
            proc.kill()


def _flower_up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthcheck", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _statuses(run: Run) -> set[str]:
    return {str(row[0]) for row in run.query("SELECT status FROM charges")}


def test_make_run_brings_up_the_set_and_ctrl_c_stops_everything(var: Path) -> None:
    run = Run(var, free_port())
    try:
        wait_until(lambda: _flower_up(run.flower), timeout_seconds=60, message="Flower answers")
        wait_until(lambda: {"DONE", "RETRY_SCHEDULED"} <= _statuses(run), timeout_seconds=60,
                   message="a DONE and a RETRY_SCHEDULED charge")  # fmt: skip
    except AssertionError:
        print(run.output()[-5000:])
        raise
    finally:
        children = run.ctrl_c() if run.proc.poll() is None else []
    assert children, "the run started no child processes"
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    out = run.output()
    assert "redis    redis://127.0.0.1:" in out and "(embedded" in out
    assert "toss     http://127.0.0.1:" in out and "(local sandbox" in out
    assert "outcome=DONE" in out and "outcome=RETRY_SCHEDULED" in out
    # The soft-declining demo card is the one that is being retried.
    declined = run.query("SELECT c.failure_code FROM charges c WHERE c.status = 'RETRY_SCHEDULED'")
    assert ("REJECT_CARD_PAYMENT",) in declined
    customers = run.query("SELECT count(*) FROM customers")[0][0]
    charges_before = run.query("SELECT count(*) FROM charges")[0][0]

    # A second run resumes from the same database: no second demo, more charges.
    again = Run(var, free_port())
    try:
        wait_until(lambda: run.query("SELECT count(*) FROM charges")[0][0] > charges_before,
                   timeout_seconds=60, message="the second run charges more cycles")  # fmt: skip
    finally:
        children = again.ctrl_c() if again.proc.poll() is None else []
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive
    assert run.query("SELECT count(*) FROM customers")[0][0] == customers
    assert "database already has data; not seeding" in again.output()
