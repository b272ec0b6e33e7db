"""Bad configuration stops the processes with one line naming the variable, no traceback."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers.procs import BIN, REPO


@pytest.mark.parametrize(
    ("command", "variable", "value"),
    [
        (["celery", "-A", "worker", "beat"], "BILLBEAT_RETRY_SCHEDULE", "2x"),
        (["celery", "-A", "worker", "worker"], "BILLBEAT_TICK_SECONDS", "-1"),
        (["billbeat", "status"], "BILLBEAT_DB_POOL_SIZE", "zero"),
    ],
)
def test_bad_setting_is_one_line(command: list[str], variable: str, value: str) -> None:
    env = {**os.environ, variable: value}
    out = subprocess.run(
        [str(BIN / command[0]), *command[1:]], cwd=REPO, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"error: {variable}: ")
    assert "Traceback" not in out.stderr + out.stdout
