"""End-to-end charge throughput: billbeat vs bare Celery tasks vs a hand-built pipeline.

    .venv/bin/python bench/throughput_bench.py [--k 5000] [--latencies 0,100]
        [--pools prefork,threads,gevent] [--cap 30] [--repeats 1]

K charges through real worker processes and the sandbox (answering in 0 ms and 100 ms), per
pool, beside peers run by the same worker settings (pool, processes, concurrency, prefetch):
bare ``peer.noop`` tasks, bare ``peer.http`` tasks (one POST to the same sandbox), and the
hand-built pipeline (bench/peer_app.py, bench/e2e.py). A run stops at K done or after
``--cap`` seconds (then the rate is what completed in the cap). Pools: ``prefork`` (children
per process), ``threads`` and ``gevent`` (greenlets per process; gevent is in the ``bench``
extra, and Celery monkey-patches the worker at start). Prints a table, then one JSON line
per (pool, latency); the recommended pool (threads) comes last. Failed acks, broker reconnects
and unknown charges in the worker logs are counted per pool (``worker_log_trouble``): they
mean redelivered messages, i.e. figures in doubt. On a machine where other benchmarks run, give
this one its own Redis (``BENCH_REDIS``) and database name (``BENCH_DB_SUFFIX``).
"""

from __future__ import annotations

import argparse
from typing import Any

from common import (
    BROKER_DB,
    PEER_DB,
    Procs,
    bench_database,
    emit,
    machine_note,
    median,
    note,
    redis_dbs,
    set_latency,
    start_sandbox,
    table,
)
from cpu import CpuMeter
from e2e import (
    log_trouble,
    prepare,
    run_billbeat,
    start_workers,
    stop_workers,
)
from peer_runs import run_bare, run_handbuilt


def _rate(results: list[tuple[int, float]]) -> float:
    return median([done / seconds for done, seconds in results])


def _measured(stage: Any, meter: CpuMeter, cpu: dict[str, list[float]],
              run: Any) -> tuple[int, float]:  # fmt: skip
    """Run once; add CPU ms per completed item, by process group, to ``cpu``."""
    meter.start()
    result = run()
    used = meter.stop()
    for group, seconds in used.items():
        cpu.setdefault(group, []).append(seconds * 1000 / max(1, stage.final_count))
    return result  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--k", type=int, default=5000)
    p.add_argument("--latencies", default="0,100")
    p.add_argument("--pools", default="prefork,threads", help="any of prefork,threads,gevent")
    p.add_argument("--cap", type=float, default=30, help="seconds per run at most")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--processes", type=int, default=2, help="worker processes per pool")
    p.add_argument("--threads", type=int, default=32, help="threads per worker (threads pool)")
    p.add_argument("--children", type=int, default=4, help="children per worker (prefork)")
    # One process per core (a greenlet pool uses one core) and 64 in flight each: at 6-8 ms of
    # CPU per charge a process does ~150/s, which a 100 ms Toss needs ~15 in flight for and a
    # 500 ms one ~75; 64 also equals TossClient's HTTP pool (more greenlets than connections
    # would open and discard a connection per extra request).
    p.add_argument("--greenlets", type=int, default=64, help="greenlets per worker (gevent)")
    # 20: with 32 threads, pool 10 measured 243-267 charges/s, 20-32 measured 293-331/s.
    p.add_argument("--db-pool", type=int, default=20, help="BILLBEAT_DB_POOL_SIZE / peer pool")
    p.add_argument("--customers", type=int, default=2000)
    p.add_argument("--prefetch", type=int, default=None, help="override prefetch (default 4)")
    p.add_argument("--billbeat-only", action="store_true", help="skip the peers (sweeps)")
    args = p.parse_args(argv)
    latencies = [int(x) for x in args.latencies.split(",")]
    per_pool = {"prefork": args.children, "threads": args.threads, "gevent": args.greenlets}
    pools = args.pools.split(",")
    if unknown := sorted(set(pools) - set(per_pool)):
        p.error(f"unknown pool(s) {', '.join(unknown)}; choose from {', '.join(per_pool)}")
    rows: list[dict[str, Any]] = []
    with (
        Procs() as procs,
        bench_database("billbeat_bench_tp") as url,
        redis_dbs(BROKER_DB, PEER_DB),
    ):
        sandbox = start_sandbox(procs)
        sandbox_pid = procs.items[-1].pid
        stage = prepare(url, sandbox, args.k, min(args.k, args.customers))
        for pool in pools:
            conc = per_pool[pool]
            opts = {"pool": pool, "processes": args.processes, "concurrency": conc,
                    "db_pool": args.db_pool, "prefetch": args.prefetch}  # fmt: skip
            bb = start_workers(stage, procs, which="billbeat", **opts)
            peer = [] if args.billbeat_only else start_workers(stage, procs, which="peer", **opts)
            set_latency(sandbox, 0)
            nan = [(0, float("nan"))]
            noop = _rate([run_bare(stage, "noop", args.cap) for _ in range(args.repeats)]
                         if peer else nan)  # fmt: skip
            note(f"{pool}: noop {noop:.0f}/s")
            for latency in latencies:
                set_latency(sandbox, latency)
                reps = range(args.repeats)
                meter, cpu = CpuMeter([w.pid for w in bb], sandbox_pid), {}
                one = lambda: run_billbeat(stage, args.cap)  # noqa: E731,B023
                charges = _rate([_measured(stage, meter, cpu, one) for _ in reps])
                cpu_ms = {g: median(v) for g, v in cpu.items()}
                pmeter, pcpu, hcpu = CpuMeter([w.pid for w in peer], sandbox_pid), {}, {}
                bare = lambda: run_bare(stage, "http", args.cap)  # noqa: E731,B023
                built = lambda: run_handbuilt(stage, args.cap)  # noqa: E731,B023
                http = _rate([_measured(stage, pmeter, pcpu, bare) for _ in reps] if peer else nan)
                hand = _rate([_measured(stage, pmeter, hcpu, built) for _ in reps]
                             if peer else nan)  # fmt: skip
                note(f"{pool} {latency}ms: billbeat {charges:.0f}/s http {http:.0f}/s "
                     f"hand-built {hand:.0f}/s")  # fmt: skip
                rows.append({"pool": pool, "workers": f"{args.processes}x{conc}",
                             "latency_ms": latency, "charges_per_s": charges,
                             "bare_noop_tasks_per_s": noop, "bare_http_tasks_per_s": http,
                             "handbuilt_per_s": hand,
                             "cpu_ms_per_charge": cpu_ms,
                             "cpu_ms_per_http_task": {g: median(v) for g, v in pcpu.items()},
                             "cpu_ms_per_handbuilt": {g: median(v) for g, v in hcpu.items()},
                             })  # fmt: skip
            stop_workers(procs, bb + peer)
            trouble = {"billbeat": log_trouble(bb), "peers": log_trouble(peer)}
            if any(trouble.values()):
                note(f"{pool}: worker log trouble (figures in doubt): {trouble}")
            for r in rows:
                if r["pool"] == pool:
                    r["worker_log_trouble"] = trouble
    print(f"\nend-to-end throughput, K={args.k}, cap {args.cap:.0f}s, median of {args.repeats} "
          f"({machine_note()}; shared noisy 2-core machine)")  # fmt: skip
    table(["pool", "workers", "latency ms", "billbeat/s", "noop/s", "http/s", "hand-built/s",
           "vs http", "vs hand-built"],
          [[r["pool"], r["workers"], r["latency_ms"], r["charges_per_s"],
            r["bare_noop_tasks_per_s"], r["bare_http_tasks_per_s"], r["handbuilt_per_s"],
            r["charges_per_s"] / r["bare_http_tasks_per_s"],
            r["charges_per_s"] / r["handbuilt_per_s"]] for r in rows])  # fmt: skip
    print("\nCPU ms per item, by process group (postgres counts every backend of the server):")
    groups = ["workers", "postgres", "sandbox", "bench"]
    table(["pool", "latency ms", "run", *groups],
          [[r["pool"], r["latency_ms"], run, *[r[key].get(g) for g in groups]]
           for r in rows for run, key in (("billbeat", "cpu_ms_per_charge"),
                                          ("bare http", "cpu_ms_per_http_task"),
                                          ("hand-built", "cpu_ms_per_handbuilt"))])  # fmt: skip
    for r in rows:
        emit({"bench": "throughput", **r, "k": args.k,
              "ratio_to_bare_http": r["charges_per_s"] / r["bare_http_tasks_per_s"],
              "ratio_to_bare_noop": r["charges_per_s"] / r["bare_noop_tasks_per_s"],
              "ratio_to_handbuilt": r["charges_per_s"] / r["handbuilt_per_s"]})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
