"""CPU per charge of the worker's state machine, in process, one thread (profiling aid).

    .venv/bin/python bench/charge_cpu.py [--k 2000] [--repeats 3] [--profile]

K subscriptions (one sandbox-issued billing key per customer, encrypted as billbeat stores it)
are made due; a ``ChargeScheduler`` with a recording publisher creates their PENDING charges;
then ``worker.billing.run_charge`` runs on each, sequentially, against a sandbox answering in
0 ms. Reports the process CPU and wall milliseconds per charge (median over ``--repeats``
rounds, each on a fresh due set), plus SQL statements per charge. ``--profile`` prints a
pyinstrument profile of one round. The sandbox and PostgreSQL run in other processes, so the
CPU figure is the worker's own Python: the part that bounds charges/s on 2 cores.
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from common import (
    SECRET,
    Procs,
    bench_database,
    emit,
    machine_note,
    median,
    note,
    sa_url,
    set_latency,
    start_sandbox,
    table,
)
from e2e import T0, prepare
from sqlalchemy import event


def _round(deps: Any, scheduler: Any, publisher: Any, minute: int,
           threads: int = 1) -> tuple[float, float, int]:  # fmt: skip
    from concurrent.futures import ThreadPoolExecutor

    from worker.billing import run_charge
    from worker.rawsql import RawStatement

    publisher.charges.clear()
    scheduler.tick(T0 + timedelta(minutes=minute, seconds=1))
    while scheduler.tick(T0 + timedelta(minutes=minute, seconds=1)) == 0:
        pass
    ids = list(publisher.charges)
    deps.clock.set(T0 + timedelta(minutes=minute, seconds=2))
    statements = 0

    def count(*_a: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(deps.engine, "before_cursor_execute", count)
    raw0 = RawStatement.executed
    c0, w0 = time.process_time(), time.perf_counter()
    if threads == 1:
        outcomes = [run_charge(deps, i) for i in ids]
    else:
        with ThreadPoolExecutor(threads) as pool:
            outcomes = list(pool.map(lambda i: run_charge(deps, i), ids))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    event.remove(deps.engine, "before_cursor_execute", count)
    statements += RawStatement.executed - raw0
    bad = [o for o in outcomes if o != "DONE"]
    if bad:
        raise RuntimeError(f"{len(bad)} charges not DONE: {bad[:5]}")
    n = len(ids)
    return cpu * 1000 / n, wall * 1000 / n, round(statements / n, 2)


def _cprofile(fn: Any) -> None:
    import cProfile
    import pstats
    from collections import Counter

    prof = cProfile.Profile(time.process_time)
    prof.runcall(fn)
    stats = pstats.Stats(prof)
    by_pkg: Counter[str] = Counter()
    for (path, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        parts = path.split("site-packages/")
        pkg = (
            parts[1].split("/")[0]
            if len(parts) > 1
            else path.rsplit("/", 2)[-2]
            if "/" in path
            else path
        )
        by_pkg[pkg] += tt
    total = sum(by_pkg.values())
    for pkg, tt in by_pkg.most_common(15):
        print(f"{tt / total:6.1%}  {pkg}")
    stats.sort_stats("cumulative").print_stats(45)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--k", type=int, default=2000, help="charges per round")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="charge from this many threads (the rate a worker process could reach "
                         "without Celery in front)")  # fmt: skip
    ap.add_argument("--latency", type=int, default=0, help="sandbox latency, ms")
    ap.add_argument("--profile", action="store_true", help="pyinstrument profile of one round")
    ap.add_argument(
        "--cprofile",
        action="store_true",
        help="cProfile of one round on the CPU clock, CPU by package and top functions",
    )
    args = ap.parse_args()

    from billbeat.settings import Settings
    from scheduler.clock import ManualClock
    from scheduler.tick import ChargeScheduler
    from worker.deps import build_deps
    from worker.publish import RecordingPublisher

    with Procs() as procs, bench_database("billbeat_bench_charge_cpu") as url:
        sandbox = start_sandbox(procs)
        set_latency(sandbox, args.latency)
        stage = prepare(url, sandbox, args.k, min(args.k, 2000))
        env = {"DATABASE_URL": sa_url(url), "TOSS_API_BASE": sandbox, "TOSS_SECRET_KEY": SECRET,
               "BILLBEAT_ENCRYPTION_KEY": stage.enc_key}  # fmt: skip
        env["BILLBEAT_DB_POOL_SIZE"] = str(max(10, min(args.threads, 40)))  # a connection each
        settings = Settings(**env)  # type: ignore[arg-type]
        deps = build_deps(settings, clock=ManualClock(T0))
        publisher = RecordingPublisher()
        scheduler = ChargeScheduler(deps.session_factory, publisher)
        _round(deps, scheduler, publisher, 1)  # warm-up: caches, pool, keep-alive
        rows = []
        for r in range(args.repeats):
            rows.append(_round(deps, scheduler, publisher, 2 + r, args.threads))
        if args.profile:
            from pyinstrument import Profiler

            prof = Profiler(interval=0.0005)
            prof.start()
            _round(deps, scheduler, publisher, 2 + args.repeats)
            prof.stop()
            print(prof.output_text(unicode=False, color=False, show_all=False))
        if args.cprofile:
            _cprofile(lambda: _round(deps, scheduler, publisher, 3 + args.repeats))
        deps.toss.close()
        deps.engine.dispose()

    cpu, wall = median([r[0] for r in rows]), median([r[1] for r in rows])
    note(machine_note())
    table(["round", "cpu ms/charge", "wall ms/charge", "statements/charge", "charges/s"],
          [[i + 1, *r, round(1000 / r[1])] for i, r in enumerate(rows)])  # fmt: skip
    emit({"bench": "charge_cpu", "k": args.k, "threads": args.threads, "latency_ms": args.latency,
          "charges_per_s": round(1000 / wall, 1), "cpu_ms_per_charge": round(cpu, 3),
          "wall_ms_per_charge": round(wall, 3), "statements_per_charge": rows[0][2]})  # fmt: skip


if __name__ == "__main__":
    main()
