"""The sandbox and Flower listen on loopback unless told otherwise (compose's Flower, which
must be reachable, requires basic auth: tests/test_compose.py)."""

from __future__ import annotations

import re
from pathlib import Path

import psutil
import pytest

from tests.helpers.procs import sandbox_process

REPO = Path(__file__).resolve().parents[1]


def _listening_ips(pid: int, port: int) -> set[str]:
    conns = psutil.Process(pid).net_connections(kind="inet")
    return {c.laddr.ip for c in conns if c.status == psutil.CONN_LISTEN and c.laddr.port == port}


@pytest.mark.integration
def test_sandbox_binds_loopback_by_default() -> None:
    with sandbox_process() as (proc, url):
        port = int(url.rsplit(":", 1)[1])
        assert _listening_ips(proc.pid, port) == {"127.0.0.1"}


def test_flower_commands_bind_loopback() -> None:
    procfile = (REPO / "Procfile").read_text()
    flower = next(line for line in procfile.splitlines() if line.startswith("flower:"))
    assert "--address=${FLOWER_ADDRESS:-127.0.0.1}" in flower
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^flower:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe and "--address=127.0.0.1" in recipe.group(1)
