"""The peers' Celery app (``celery -A peer_app worker``, bench/ on PYTHONPATH).

Same Celery settings as billbeat's app (JSON, acks_late, prefetch 4, sent events) so only the
task body differs:

* ``peer.noop``: nothing but the completion counter (INCR, so the bench can tell when the
  queue is drained *and run*; one Redis round trip).
* ``peer.http``: one charge POST to the sandbox (a thread-local ``requests.Session``; under
  the gevent pool one per process with a 64-connection pool, as ``TossClient`` has), then the
  counter.
* ``peer.hb_charge``: the "hand-built pipeline" worker half: read the order row, POST, write
  one result row and mark the order DONE in one transaction, on a pooled SQLAlchemy engine.
  No claim, no attempt records, no encryption (billing key stored in the clear).

Configuration comes from the environment: PEER_BROKER, PEER_COUNTER_URL, SANDBOX_URL,
PEER_DATABASE_URL, PEER_DB_POOL_SIZE.
"""

from __future__ import annotations

import base64
import os
import sys
import threading
from typing import Any

import redis
import requests
from celery import Celery
from requests.adapters import HTTPAdapter
from sqlalchemy import create_engine, text

from worker.app import TASK_POLICY

SECRET = "test_sk_bench"
AUTH = "Basic " + base64.b64encode(f"{SECRET}:".encode()).decode()
COUNTER = "peer:done"

# The bench process publishes without PEER_BROKER set: default to bench/common.py's PEER_DB
# (not imported here: it installs signal handlers, unwanted in a worker).
_DEFAULT_BROKER = (os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379") + "/"
                   + os.environ.get("BENCH_PEER_DB", "7"))  # fmt: skip
app = Celery("peer", broker=os.environ.get("PEER_BROKER", _DEFAULT_BROKER))
app.conf.update(TASK_POLICY)  # billbeat's own task settings (worker/app.py)

_local = threading.local()
_shared: dict[str, Any] = {}
_lock = threading.Lock()


def _pid_cached(name: str, build: Any) -> Any:
    # Per process (prefork children build their own after the fork).
    key = (name, os.getpid())
    with _lock:
        if key not in _shared:
            _shared[key] = build()
        return _shared[key]


def _counter() -> redis.Redis:
    return _pid_cached("redis", lambda: redis.Redis.from_url(os.environ["PEER_COUNTER_URL"]))


def _engine() -> Any:
    url = os.environ["PEER_DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1)
    size = int(os.environ.get("PEER_DB_POOL_SIZE", "10"))
    return _pid_cached("engine", lambda: create_engine(url, pool_size=size, max_overflow=5))


def _greenlets() -> bool:
    """True in a ``-P gevent`` worker (Celery monkey-patches threading before importing us)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and bool(monkey.is_module_patched("threading"))


def _pooled_session() -> requests.Session:
    s = requests.Session()
    s.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0))
    return s


def _session() -> requests.Session:
    if _greenlets():
        # threading.local is greenlet-local once patched, and the gevent pool runs every task
        # in a new greenlet: a "thread-local" session would be a new TCP connection per task.
        return _pid_cached("session", _pooled_session)  # type: ignore[no-any-return]
    s = getattr(_local, "session", None)
    if s is None or getattr(_local, "pid", None) != os.getpid():
        s = _local.session = requests.Session()
        _local.pid = os.getpid()
    return s


def _post(billing_key: str, customer_key: str, order_id: str, amount: int) -> dict[str, Any]:
    resp = _session().post(
        f"{os.environ['SANDBOX_URL']}/v1/billing/{billing_key}",
        json={
            "customerKey": customer_key,
            "amount": amount,
            "orderId": order_id,
            "orderName": "bench plan",
        },  # fmt: skip
        headers={"Authorization": AUTH},
        timeout=(5, 60),
    )
    return resp.json()  # type: ignore[no-any-return]


@app.task(name="peer.noop", acks_late=True)
def noop() -> None:
    _counter().incr(COUNTER)


@app.task(name="peer.http", acks_late=True)
def http(billing_key: str, customer_key: str, order_id: str) -> None:
    # The bench passes the key in the message: a peer with no secrets discipline at all.
    _post(billing_key, customer_key, order_id, 9900)
    _counter().incr(COUNTER)


@app.task(name="peer.hb_charge", acks_late=True)
def hb_charge(order_row_id: int) -> None:
    engine = _engine()
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT customer_key, billing_key, amount, order_id FROM hb_orders WHERE id = :i"),
            {"i": order_row_id},
        ).one()
        conn.rollback()
    body = _post(row.billing_key, row.customer_key, row.order_id, row.amount)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO hb_results (order_id, payment_key, status) VALUES (:o, :p, :s)"),
            {"o": row.order_id, "p": body.get("paymentKey"), "s": body.get("status", "ERROR")},
        )
        conn.execute(text("UPDATE hb_orders SET status = 'DONE' WHERE id = :i"),
                     {"i": order_row_id})  # fmt: skip
