"""Shared plumbing of the benchmarks: processes, the bench database, Redis, tables, JSON.

Every process a benchmark starts goes through ``Procs``: each child gets its own process group
and is terminated (then killed) when the ``with`` block ends, on errors and on Ctrl-C alike.
SIGTERM is turned into ``KeyboardInterrupt`` so ``make`` being stopped cleans up too.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PY = sys.executable
CELERY = str(Path(PY).with_name("celery"))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379")
#: Redis databases of the benchmarks (the test suite uses 8-15, `make run` uses 0). Two
#: benchmarks on one machine (scheduler_bench publishes to db 5 and flushes it) would eat each
#: other's queues: BENCH_BROKER_DB / BENCH_REDBEAT_DB / BENCH_PEER_DB move one of them.
BROKER_DB = int(os.environ.get("BENCH_BROKER_DB", "5"))
REDBEAT_DB = int(os.environ.get("BENCH_REDBEAT_DB", "6"))
PEER_DB = int(os.environ.get("BENCH_PEER_DB", "7"))
SECRET = "test_sk_bench"
CARD = {"card_number": "4330123412341234", "expiration_year": "39",
        "expiration_month": "12", "identity_number": "900101"}  # fmt: skip


def _sigterm(_signo: int, _frame: object) -> None:
    raise KeyboardInterrupt


signal.signal(signal.SIGTERM, _sigterm)
# Started in the background by a non-interactive shell, SIGINT arrives ignored: restore it.
signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(probe: Callable[[], bool], timeout_s: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(step)
    raise RuntimeError(f"timed out after {timeout_s:.0f}s waiting for {what}")


class Procs:
    """Child processes of one benchmark; all stopped on exit (by pid / process group)."""

    def __init__(self) -> None:
        self.items: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Procs:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()

    def start(self, args: Sequence[str], *, env: dict[str, str] | None = None,
              log: Path | None = None) -> subprocess.Popen[bytes]:  # fmt: skip
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
        proc = subprocess.Popen(list(args), env=env, cwd=ROOT, stdout=out, stderr=out,
                                start_new_session=True)  # fmt: skip
        self.items.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout_s)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)
        if proc in self.items:
            self.items.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.items)):
            self.stop(proc)


# ---- sandbox -------------------------------------------------------------------------------


def start_sandbox(procs: Procs, log: Path | None = None) -> str:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    procs.start([PY, "-m", "toss.sandbox", "--port", str(port)], log=log)
    wait_for(lambda: requests.get(f"{url}/sandbox/health", timeout=1).ok, 20, "the sandbox")
    return url


def set_latency(url: str, latency_ms: int) -> None:
    requests.post(f"{url}/sandbox/faults", json={"latencyMs": latency_ms}, timeout=5)


def issue_keys(url: str, count: int, prefix: str) -> list[tuple[str, str]]:
    """``count`` (customer_key, billing_key) pairs issued by the sandbox (one per customer)."""
    from concurrent.futures import ThreadPoolExecutor

    from toss import TossClient

    client = TossClient(base_url=url, secret_key=SECRET)

    def one(i: int) -> tuple[str, str]:
        ck = f"{prefix}{i:08d}"
        return ck, client.issue_billing_key_with_card(customer_key=ck, **CARD).billing_key

    with ThreadPoolExecutor(8) as pool:
        pairs = list(pool.map(one, range(count)))
    client.close()
    return pairs


# ---- PostgreSQL ----------------------------------------------------------------------------


def db_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def bench_database(name: str, *, migrate: bool = True) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database; dropped afterwards. Yields a plain URL.

    The name gets ``BENCH_DB_SUFFIX`` appended: a second run of the same benchmark on this
    server would otherwise drop this one's database (``WITH (FORCE)``) in the middle of a run.
    """
    name += os.environ.get("BENCH_DB_SUFFIX", "")
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = db_url(name)
    try:
        if migrate:
            from models.db import make_engine
            from models.migrate import upgrade

            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
        yield url
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_connections(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                           (name,)).fetchone()  # fmt: skip
    return int(row[0]) if row else 0


# ---- Redis ---------------------------------------------------------------------------------


def redis_url(db: int) -> str:
    return f"{REDIS_BASE}/{db}"


def flush(db: int) -> None:
    client = redis.Redis.from_url(redis_url(db))
    client.flushdb()
    client.close()


@contextmanager
def redis_dbs(*dbs: int) -> Iterator[None]:
    """The bench's Redis databases, flushed before and after (also on errors and Ctrl-C)."""
    for db in dbs:
        flush(db)
    try:
        yield
    finally:
        for db in dbs:
            flush(db)


# ---- Celery workers ------------------------------------------------------------------------


def start_worker(procs: Procs, *, app: str, pool: str, concurrency: int, env: dict[str, str],
                 name: str, prefetch: int | None = None, log: Path | None = None,
                 ) -> subprocess.Popen[bytes]:  # fmt: skip
    args = [CELERY, "-A", app, "worker", "--pool", pool, "--concurrency", str(concurrency),
            "--loglevel", "WARNING", "-n", f"{name}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat"]  # fmt: skip
    if prefetch is not None:
        args += ["--prefetch-multiplier", str(prefetch)]
    return procs.start(args, env=env, log=log)


def wait_workers(celery_app: Any, names: Sequence[str], timeout_s: float = 60) -> None:
    """Until every named worker answers a ping (it is consuming)."""
    want = {n.split("@")[0] for n in names}

    def ready() -> bool:
        replies = celery_app.control.ping(timeout=0.5) or []
        got = {next(iter(r)).split("@")[0] for r in replies}
        return want <= got

    wait_for(ready, timeout_s, f"workers {sorted(want)}", step=0.2)


# ---- output --------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "-" if value is None else str(value)


def emit(record: dict[str, Any]) -> None:
    """Print one JSON line of figures (floats rounded)."""
    clean = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in record.items()}
    print(json.dumps(clean), flush=True)


def note(msg: str) -> None:
    print(f"# {msg}", file=sys.stderr, flush=True)


def machine_note() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
