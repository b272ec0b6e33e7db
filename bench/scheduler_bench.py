"""Scheduler scale: billbeat's pass vs celery-redbeat vs Celery's default beat, same N.

    .venv/bin/python bench/scheduler_bench.py [--n 10000,100000,1000000] [--due-pct 1,10]

Per N: N monthly subscriptions (28 crons "0 9 D * *" Asia/Seoul) are COPY-loaded into a fresh
PostgreSQL database; a billbeat pass at a fixed ``now`` is timed with 0 due (median of
``--passes``) and with 1% / 10% due (claim + charge rows + next time + one real Celery message
per charge to Redis db 5; nothing consumes it). Each measurement runs in its own process
(bench/sched_probe.py) so ``beat_rss_mb`` is that process's peak RSS. The same N go into
RedBeat (Redis db 6) as daily crontab entries and, for N <= 10^4, into Celery's default beat;
both dispatch the same due set through the same Celery app. Prints a table, then one JSON
line per N (the last line of output is JSON).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redbeat_data
from common import (
    BROKER_DB,
    PY,
    REDBEAT_DB,
    bench_database,
    emit,
    flush,
    machine_note,
    median,
    note,
    redis_dbs,
    redis_url,
    table,
)
from load import analyze, execute, load_customers, load_subscriptions

from scheduler.cycles import next_cycle_at, prev_cycle_at

PROBE = str(Path(__file__).with_name("sched_probe.py"))
#: The scheduler's "now": 10:00 KST on the 15th; subscription i bills on day 1 + i % 28.
NOW = datetime(2027, 1, 15, 1, 0, tzinfo=UTC)
TZ = "Asia/Seoul"
CRONS = [f"0 9 {d} * *" for d in range(1, 29)]
DEFAULT_BEAT_MAX_N = 10_000


def probe(cfg: dict[str, Any], timeout_s: float = 900) -> dict[str, Any]:
    out = subprocess.run([PY, PROBE, json.dumps(cfg)], capture_output=True, text=True,
                         timeout=timeout_s, check=False)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"probe {cfg['kind']}/{cfg['mode']} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _plan(i: int) -> tuple[str, str, datetime]:
    cron = CRONS[i % 28]
    return cron, TZ, next_cycle_at(cron, TZ, NOW)


def mark_due(url: str, pct: int) -> int:
    """Subscriptions with id % 100 < pct become due at their latest cycle; charges cleared."""
    execute(url, "TRUNCATE charge_attempts, charges")
    values = ", ".join(f"({k}, '{prev_cycle_at(c, TZ, NOW).isoformat()}'::timestamptz)"
                       for k, c in enumerate(CRONS))  # fmt: skip
    due = execute(url, "UPDATE subscriptions s SET next_charge_at = v.at "
                       f"FROM (VALUES {values}) AS v(k, at) "
                       "WHERE s.id %% 28 = v.k AND s.id %% 100 < %s", (pct,))  # fmt: skip
    analyze(url)
    return due


def run_n(n: int, pcts: list[int], args: argparse.Namespace) -> dict[str, Any]:
    broker, rb_url = redis_url(BROKER_DB), redis_url(REDBEAT_DB)
    flush(BROKER_DB)
    flush(REDBEAT_DB)
    res: dict[str, Any] = {"n": n}
    with bench_database("billbeat_bench_sched") as url:
        note(f"n={n}: loading subscriptions (COPY)")
        customers = min(n, 10_000)
        load_customers(url, [f"cus_bench{i:08d}" for i in range(customers)])
        load_subscriptions(url, n, customers=customers, plan=_plan)
        base = {"kind": "billbeat", "db": url, "broker": broker, "now": NOW.isoformat(),
                "batch_size": args.batch_size}  # fmt: skip
        idle = probe({**base, "mode": "idle", "passes": args.passes})
        res["idle_pass_ms"] = median(idle["idle_ms"])
        rss = [idle["maxrss_mb"]]
        for pct in pcts:
            rates = []
            for rep in range(args.repeats):
                due = mark_due(url, pct)
                flush(BROKER_DB)
                prof = args.profile if (rep == 0 and pct == pcts[-1]) else None
                out = probe({**base, "mode": "due", "expected": due, "profile": prof})
                if out["created"] != due:
                    note(f"billbeat created {out['created']} of {due} due")
                rates.append(out["created"] / out["seconds"])
                rss.append(out["maxrss_mb"])
            res[f"due_{pct}"] = median(rates)
            res[f"due_{pct}_count"] = due
        if args.claim_only:  # the same largest due set, published nowhere
            due = mark_due(url, pcts[-1])
            prof = f"{args.profile}.claim" if args.profile else None
            out = probe({**base, "mode": "due", "expected": due, "no_publish": True,
                         "profile": prof})  # fmt: skip
            res["claim_only"] = out["created"] / out["seconds"]
        res["beat_rss_mb"] = max(rss)
    flush(BROKER_DB)
    if args.no_peers:
        return res
    note(f"n={n}: loading RedBeat entries")
    real_now = datetime.now(UTC)
    redbeat_data.load(rb_url, n, real_now)
    rb = {"kind": "redbeat", "broker": broker, "redbeat": rb_url, "cap_seconds": args.cap}
    idle = probe({**rb, "mode": "idle", "passes": args.passes})
    res["redbeat_idle_ms"] = median(idle["idle_ms"])
    rss = [idle["maxrss_mb"]]
    for pct in pcts:
        due = redbeat_data.mark_due(rb_url, n, pct, real_now)
        flush(BROKER_DB)
        out = probe({**rb, "mode": "due", "expected": due})
        res[f"redbeat_due_{pct}"] = out["created"] / out["seconds"]
        rss.append(out["maxrss_mb"])
    res["redbeat_rss_mb"] = max(rss)
    flush(REDBEAT_DB)
    if n <= DEFAULT_BEAT_MAX_N:
        note(f"n={n}: Celery default beat")
        for pct in pcts:
            flush(BROKER_DB)
            out = probe({"kind": "beat", "broker": broker, "n": n, "due_pct": pct,
                         "cap_seconds": min(args.cap, 30)})  # fmt: skip
            res[f"celerybeat_due_{pct}"] = out["created"] / out["seconds"]
            res["celerybeat_idle_ms"] = median(out["idle_ms"])
            res["celerybeat_rss_mb"] = max(res.get("celerybeat_rss_mb", 0), out["maxrss_mb"])
    flush(BROKER_DB)
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="10000,100000,1000000", help="comma-separated N")
    parser.add_argument("--due-pct", default="1,10")
    parser.add_argument("--passes", type=int, default=15, help="idle passes (median)")
    parser.add_argument("--repeats", type=int, default=1, help="due runs per percentage")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--cap", type=float, default=60, help="max seconds per peer drain")
    parser.add_argument("--profile", default=None, help="pyinstrument text of one due run")
    parser.add_argument("--no-peers", action="store_true", help="billbeat only (profiling)")
    parser.add_argument(
        "--claim-only", action="store_true", help="also time the largest due set without publishing"
    )
    args = parser.parse_args(argv)
    ns = [int(float(x)) for x in args.n.split(",")]
    pcts = [int(x) for x in args.due_pct.split(",")]
    with redis_dbs(BROKER_DB, REDBEAT_DB):
        results = [run_n(n, pcts, args) for n in ns]
    hi = pcts[-1]
    print(f"\nscheduler scale ({machine_note()}; a shared, noisy 2-core machine)")
    rows = []
    for r in results:
        rows.append([r["n"], r["idle_pass_ms"], r.get("redbeat_idle_ms"),
                     r.get("celerybeat_idle_ms"),
                     *[r[f"due_{p}"] for p in pcts], *[r.get(f"redbeat_due_{p}") for p in pcts],
                     *[r.get(f"celerybeat_due_{p}") for p in pcts],
                     r["beat_rss_mb"], r.get("redbeat_rss_mb"),
                     r.get("celerybeat_rss_mb")])  # fmt: skip
    table(["N", "idle ms", "rb idle ms", "beat idle ms",
           *[f"due/s {p}%" for p in pcts], *[f"rb due/s {p}%" for p in pcts],
           *[f"beat due/s {p}%" for p in pcts],
           "RSS MB", "rb RSS MB", "beat RSS MB"], rows)  # fmt: skip
    for r in results:
        record = {"bench": "scheduler", "n": r["n"], "idle_pass_ms": r["idle_pass_ms"],
                  "due_dispatch_per_s": r[f"due_{hi}"],
                  "redbeat_due_dispatch_per_s": r.get(f"redbeat_due_{hi}"),
                  "beat_rss_mb": r["beat_rss_mb"], "due_pct": hi}  # fmt: skip
        for p in pcts:
            record[f"due_dispatch_per_s_{p}pct"] = r[f"due_{p}"]
            record[f"redbeat_due_dispatch_per_s_{p}pct"] = r.get(f"redbeat_due_{p}")
            if f"celerybeat_due_{p}" in r:
                record[f"celerybeat_due_dispatch_per_s_{p}pct"] = r.get(f"celerybeat_due_{p}")
        if "claim_only" in r:
            record["claim_only_per_s"] = r["claim_only"]
        record.update(
            redbeat_idle_ms=r.get("redbeat_idle_ms"), redbeat_rss_mb=r.get("redbeat_rss_mb")
        )
        if "celerybeat_rss_mb" in r:
            record.update(celerybeat_idle_ms=r.get("celerybeat_idle_ms"),
                          celerybeat_rss_mb=r.get("celerybeat_rss_mb"))  # fmt: skip
        emit(record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
