"""End-to-end runs shared by throughput_bench and peak_bench.

``Stage`` holds one bench database with K due-able subscriptions (one sandbox-issued billing
key per customer, encrypted as billbeat stores it), the hand-built peer's tables, the sandbox
and the worker environments. Each run returns (completed, seconds); the peers' runs are in
bench/peer_runs.py:

* billbeat: a real ``ChargeScheduler`` in a thread of this process (``tick(now)`` until the
  due set is claimed, publishing through ``CeleryPublisher``) + the billbeat workers; done
  when every charge is DONE.
* bare: K ``peer.noop`` / ``peer.http`` messages published from a thread; done when the
  tasks' counter reaches K.
* hand-built: a SQL poller thread (SELECT due ids, mark QUEUED, one ``apply_async`` per row)
  + ``peer.hb_charge`` workers; done when K result rows exist.

A run that is not done after ``cap`` seconds reports what completed so far; its leftover
messages are purged and the in-flight tasks waited out before the next run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from common import (
    BROKER_DB,
    PEER_DB,
    ROOT,
    SECRET,
    Procs,
    flush,
    issue_keys,
    note,
    redis_url,
    start_worker,
    wait_for,
    wait_workers,
)
from load import execute, load_customers, load_subscriptions, scalar

T0 = datetime(2026, 6, 1, tzinfo=UTC)
QUEUE = "celery"
COUNTER = "peer:done"
LOGS = Path(os.environ.get("BENCH_LOG_DIR", "/tmp/billbeat-bench"))


@dataclass
class Stage:
    url: str
    sandbox: str
    k: int
    keys: list[tuple[str, str]]
    enc_key: str
    run_no: int = 0
    #: Seconds the last billbeat run's scheduler took to claim and publish the due set.
    beat_seconds: float = 0.0
    #: Items completed by the last run once its in-flight tasks finished (for CPU per item).
    final_count: int = 0
    workers: list[Any] = field(default_factory=list)

    def billbeat_env(self, db_pool: int) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": self.url,
                "REDIS_URL": redis_url(BROKER_DB), "TOSS_API_BASE": self.sandbox,
                "TOSS_SECRET_KEY": SECRET, "BILLBEAT_ENCRYPTION_KEY": self.enc_key,
                "BILLBEAT_DB_POOL_SIZE": str(db_pool), "BILLBEAT_LOG_LEVEL": "WARNING"}  # fmt: skip

    def peer_env(self, db_pool: int) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
                "PEER_BROKER": redis_url(PEER_DB), "PEER_COUNTER_URL": redis_url(PEER_DB),
                "SANDBOX_URL": self.sandbox, "PEER_DATABASE_URL": self.url,
                "PEER_DB_POOL_SIZE": str(db_pool)}  # fmt: skip


def prepare(url: str, sandbox: str, k: int, customers: int) -> Stage:
    """Issue ``customers`` keys at the sandbox; load K subscriptions and K hand-built orders."""
    from models.crypto import BillingKeyCipher, generate_key

    note(f"issuing {customers} billing keys at the sandbox")
    keys = issue_keys(sandbox, customers, "cus_bench")
    enc_key = generate_key()
    cipher = BillingKeyCipher([enc_key])
    load_customers(url, [ck for ck, _ in keys], [cipher.encrypt(bk) for _, bk in keys])
    load_subscriptions(url, k, customers=customers, plan=lambda _i: ("* * * * *", "UTC", T0))
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE hb_orders (id serial PRIMARY KEY, customer_key text, "
                     "billing_key text, amount int, order_id text, status text, "
                     "due_at timestamptz)")  # fmt: skip
        conn.execute("CREATE INDEX ON hb_orders (status, due_at)")
        conn.execute("CREATE TABLE hb_results (id serial PRIMARY KEY, order_id text, "
                     "payment_key text, status text, "
                     "created_at timestamptz DEFAULT now())")  # fmt: skip
        copy_sql = ("COPY hb_orders (customer_key, billing_key, amount, order_id, status, "
                    "due_at) FROM STDIN")  # fmt: skip
        with conn.cursor() as cur, cur.copy(copy_sql) as cp:
            for i in range(k):
                ck, bk = keys[i % customers]
                cp.write_row((ck, bk, 9900, f"hb-0-{i}", "DONE", T0))
        conn.commit()
    return Stage(url=url, sandbox=sandbox, k=k, keys=keys, enc_key=enc_key)


# ---- workers -------------------------------------------------------------------------------


def start_workers(stage: Stage, procs: Procs, *, which: str, pool: str, processes: int,
                  concurrency: int, db_pool: int, prefetch: int | None = None,
                  ) -> list[Any]:  # fmt: skip
    LOGS.mkdir(parents=True, exist_ok=True)
    if which == "billbeat":
        from worker.app import make_app

        app, mod, env = make_app(broker_url=redis_url(BROKER_DB)), "worker", stage.billbeat_env
    else:
        import peer_app

        app, mod, env = peer_app.app, "peer_app", stage.peer_env
    names = [f"{which}{i}-{pool}" for i in range(processes)]
    started = [start_worker(procs, app=mod, pool=pool, concurrency=concurrency,
                            env=env(db_pool), name=n, log=LOGS / f"{n}.log", prefetch=prefetch)
               for n in names]  # fmt: skip
    _logs.update({proc.pid: LOGS / f"{n}.log" for proc, n in zip(started, names, strict=True)})
    wait_workers(app, names)
    return started


_logs: dict[int, Path] = {}
#: Worker log lines that put a run's figures in doubt: failed acks and broker reconnects mean
#: redelivered (double-counted) messages; "not found" is a charge message from another run or
#: from another program sharing the Redis database.
TROUBLE = {"ack failed": "Couldn't ack", "broker lost": "Connection to broker lost",
           "not found": " not found", "traceback": "Traceback (most recent"}  # fmt: skip


def log_trouble(started: list[Any]) -> dict[str, int]:
    """Counts of the ``TROUBLE`` lines in the logs of these workers (only the non-zero ones)."""
    counts = dict.fromkeys(TROUBLE, 0)
    for proc in started:
        path = _logs.get(proc.pid)
        if path is None or not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            for what, marker in TROUBLE.items():
                counts[what] += marker in line
    return {what: n for what, n in counts.items() if n}


def stop_workers(procs: Procs, started: list[Any]) -> None:
    for proc in started:
        procs.stop(proc)


# ---- runs ----------------------------------------------------------------------------------


def _poll(done: Callable[[], int], k: int, cap: float, t0: float,
          sample: Callable[[], None] | None) -> tuple[int, float]:  # fmt: skip
    count, last = 0, time.monotonic()
    while True:
        count = done()
        now = time.monotonic()
        if count >= k or now - t0 > cap:
            return count, now - t0
        if sample is not None and now - last >= 0.5:
            sample()
            last = now
        time.sleep(0.05)


def _settle(done: Callable[[], int], db: int, timeout_s: float = 60) -> None:
    """Purge leftover messages and wait for the in-flight tasks to finish."""
    client = redis.Redis.from_url(redis_url(db))
    client.delete(QUEUE)
    client.close()
    seen = [done(), time.monotonic()]

    def stable() -> bool:
        c = done()
        if c != seen[0]:
            seen[:] = [c, time.monotonic()]
        return time.monotonic() - seen[1] > 1.5

    wait_for(stable, timeout_s, "in-flight tasks to finish", step=0.25)


def _sql_counter(url: str, sql: str) -> tuple[Callable[[], int], psycopg.Connection[Any]]:
    conn = psycopg.connect(url, autocommit=True)  # one connection for all the polls

    def count() -> int:
        row = conn.execute(sql).fetchone()
        return int(row[0]) if row else 0

    return count, conn


def run_billbeat(stage: Stage, cap: float, sample: Callable[[], None] | None = None,
                 batch_size: int = 1000, split: bool = False) -> tuple[int, float]:  # fmt: skip
    """One billbeat run. ``split``: workers stop consuming while the scheduler publishes the
    whole due set, then the clock starts (the workers' own rate, without the beat)."""
    from models.db import make_engine, make_session_factory
    from scheduler.tick import ChargeScheduler
    from worker.app import make_app
    from worker.publish import CeleryPublisher

    stage.run_no += 1
    cycle = T0 + timedelta(minutes=stage.run_no)
    execute(stage.url, "TRUNCATE charge_attempts, charges")
    execute(stage.url, "UPDATE subscriptions SET next_charge_at = %s", (cycle,))
    engine = make_engine(stage.url, pool_size=2, max_overflow=0)
    app = make_app(broker_url=redis_url(BROKER_DB))
    sched = ChargeScheduler(make_session_factory(engine), CeleryPublisher(app),
                            batch_size=batch_size)  # fmt: skip
    errors: list[BaseException] = []
    stop = threading.Event()  # set when the run is over (done or capped)

    def beat() -> None:
        began = time.monotonic()
        try:
            for _ in range(stage.k // batch_size + 20):
                if stop.is_set():
                    break
                sched.tick(cycle + timedelta(seconds=1))
                if not sched.last_pass.more_due:
                    break
        except BaseException as exc:  # reported below
            errors.append(exc)
        stage.beat_seconds = time.monotonic() - began

    done, conn = _sql_counter(stage.url, "SELECT count(*) FROM charges WHERE status = 'DONE'")
    if split:
        app.control.cancel_consumer(QUEUE, reply=True, timeout=2)
        beat()
        app.control.add_consumer(QUEUE, reply=True, timeout=2)
    t0 = time.monotonic()
    thread = threading.Thread(target=beat if not split else lambda: None, daemon=True)
    thread.start()
    result = _poll(done, stage.k, cap, t0, sample)
    stop.set()
    thread.join(timeout=60)
    engine.dispose()
    if errors:
        raise RuntimeError(f"beat failed: {errors[0]!r}")
    _settle(done, BROKER_DB)
    stage.final_count = done()
    bad = scalar(stage.url, "SELECT count(*) FROM charges WHERE status NOT IN "
                            "('DONE', 'PENDING', 'PROCESSING')")  # fmt: skip
    conn.close()
    if bad:
        note(f"billbeat run {stage.run_no}: {bad} charges ended neither DONE nor pending")
    return result


def reset_broker() -> None:
    flush(BROKER_DB)
    flush(PEER_DB)
