"""``make bench-quick``: the three benchmarks at reduced size, in a few minutes.

Runs scheduler_bench (N = 10^5), throughput_bench (K = 5,000, short caps) and peak_bench
(10^4 due) one after another (never two at once: the machine has 2 cores), streams their
tables to stderr, and ends with the JSON lines: one for the scheduler, one per latency for
throughput (the recommended threads pool), one for the peak. ``--full`` runs the full sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = {
    "scheduler": ["--n", "100000", "--passes", "15", "--cap", "30"],
    "throughput": ["--k", "5000", "--cap", "6"],
    "peak": ["--due", "10000", "--cap", "30"],
}
#: A smoke run of the plumbing (seconds, not figures).
TINY = {
    "scheduler": ["--n", "10000", "--passes", "5", "--cap", "5", "--due-pct", "1"],
    "throughput": ["--k", "300", "--cap", "4", "--customers", "50", "--latencies", "0"],
    "peak": ["--due", "500", "--cap", "20", "--customers", "50"],
}
FULL = {
    "scheduler": ["--n", "10000,100000,1000000", "--passes", "25", "--cap", "60"],
    # Caps long enough for K and the peak to finish at round 2's rates (~270/s and ~220/s).
    "throughput": ["--k", "10000", "--cap", "60", "--repeats", "2"],
    "peak": ["--due", "100000", "--cap", "900"],
}


def run(name: str, args: list[str]) -> list[dict[str, object]]:
    cmd = [sys.executable, str(HERE / f"{name}_bench.py"), *args]
    print(f"$ {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    lines: list[dict[str, object]] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", file=sys.stderr, flush=True)
            if line.startswith("{"):
                lines.append(json.loads(line))
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()  # it stops its own workers and sandbox on SIGTERM
            proc.wait(timeout=60)
    print(f"# {name}: {time.monotonic() - t0:.0f}s, exit {proc.returncode}", file=sys.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"{name}_bench failed (exit {proc.returncode})")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the full sizes (make bench)")
    parser.add_argument("--tiny", action="store_true", help="a smoke run of the plumbing")
    args = parser.parse_args(argv)
    sizes = FULL if args.full else TINY if args.tiny else QUICK
    out = {name: run(name, sizes[name]) for name in ("scheduler", "throughput", "peak")}
    final = list(out["scheduler"]) if args.full else out["scheduler"][-1:]
    threads = [r for r in out["throughput"] if r.get("pool") == "threads"]
    final += out["throughput"] if args.full else threads
    final += out["peak"]
    for record in final:
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
