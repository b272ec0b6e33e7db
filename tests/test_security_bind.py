"""The sandbox and Flower listen on loopback unless told otherwise (compose's Flower, which
must be reachable, requires basic auth: tests/test_compose.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from billbeat.embedded_redis import free_port
from tests.helpers.wait import wait_until

REPO = Path(__file__).resolve().parents[1]


def _listening_ips(pid: int, port: int) -> set[str]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


@pytest.mark.integration
def test_sandbox_binds_loopback_by_default() -> None:
    port = free_port()
    args = [sys.executable, "-m", "toss.sandbox", "--port", str(port)]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until(healthy, timeout_seconds=20, message="sandbox up")
        assert _listening_ips(proc.pid, port) == {"127.0.0.1"}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_flower_commands_bind_loopback() -> None:
    procfile = (REPO / "Procfile").read_text()
    flower = next(line for line in procfile.splitlines() if line.startswith("flower:"))
    assert "--address=${FLOWER_ADDRESS:-127.0.0.1}" in flower
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^flower:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe and "--address=127.0.0.1" in recipe.group(1)
