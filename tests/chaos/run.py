"""``make chaos``: every chaos scenario at full size, then the figures table.

python -m tests.chaos.run [extra pytest args]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.chaos.report import Figures, table


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        figures_file = Path(tmp) / "figures.jsonl"
        env = {**os.environ, "BILLBEAT_CHAOS_FULL": "1"}
        env["BILLBEAT_CHAOS_FIGURES"] = str(figures_file)
        started = time.monotonic()
        args = [sys.executable, "-m", "pytest", "tests/chaos", "-m", "chaos", "-q",
                "-p", "no:cacheprovider", "-o", "timeout=600", *argv]  # fmt: skip
        code = subprocess.call(args, env=env)
        elapsed = time.monotonic() - started
        rows = []
        if figures_file.exists():
            lines = figures_file.read_text().splitlines()
            rows = [Figures(**json.loads(line)) for line in lines if line]
    print("\nchaos figures (full size)\n" + table(rows))
    print(f"\nmake chaos: {len(rows)} scenarios in {elapsed:.0f} s, pytest exit code {code}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
