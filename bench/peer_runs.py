"""The peers' runs (bench/peer_app.py): bare no-op / HTTP tasks and the hand-built pipeline.

Same contract as ``e2e.run_billbeat``: (completed, seconds), capped, leftovers purged and the
in-flight tasks waited out before returning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg
import redis
from common import PEER_DB, redis_url
from e2e import COUNTER, Stage, _poll, _settle, _sql_counter
from load import execute


def _counter(client: redis.Redis) -> Callable[[], int]:
    return lambda: int(client.get(COUNTER) or 0)


def run_bare(stage: Stage, kind: str, cap: float,
             sample: Callable[[], None] | None = None) -> tuple[int, float]:  # fmt: skip
    import peer_app

    stage.run_no += 1
    client = redis.Redis.from_url(redis_url(PEER_DB))
    client.set(COUNTER, 0)
    run, keys, k = stage.run_no, stage.keys, stage.k
    stop = threading.Event()

    def publish() -> None:
        with peer_app.app.producer_or_acquire() as producer:
            for i in range(k):
                if stop.is_set():
                    return
                if kind == "noop":
                    peer_app.app.send_task("peer.noop", producer=producer)
                else:
                    ck, bk = keys[i % len(keys)]
                    peer_app.app.send_task("peer.http", args=(bk, ck, f"bare-{run}-{i}"),
                                           producer=producer)  # fmt: skip

    t0 = time.monotonic()
    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    result = _poll(_counter(client), k, cap, t0, sample)
    stop.set()
    thread.join(timeout=60)
    _settle(_counter(client), PEER_DB)
    stage.final_count = _counter(client)()
    client.close()
    return result


def run_handbuilt(stage: Stage, cap: float) -> tuple[int, float]:
    import peer_app

    stage.run_no += 1
    execute(stage.url, "TRUNCATE hb_results")
    execute(stage.url, "UPDATE hb_orders SET status = 'DUE', order_id = %s || id",
            (f"hb-{stage.run_no}-",))  # fmt: skip

    stop = threading.Event()

    def poller() -> None:
        with psycopg.connect(stage.url) as conn:
            for _ in range(stage.k // 1000 + 20):
                if stop.is_set():
                    return
                ids = [r[0] for r in conn.execute(
                    "SELECT id FROM hb_orders WHERE status = 'DUE' AND due_at <= now() "
                    "ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED")]  # fmt: skip
                if not ids:
                    return
                conn.execute("UPDATE hb_orders SET status = 'QUEUED' WHERE id = ANY(%s)", (ids,))
                conn.commit()
                for i in ids:
                    peer_app.hb_charge.apply_async((i,))

    done, conn = _sql_counter(stage.url, "SELECT count(*) FROM hb_results")
    t0 = time.monotonic()
    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    result = _poll(done, stage.k, cap, t0, None)
    stop.set()
    thread.join(timeout=60)
    _settle(done, PEER_DB)
    stage.final_count = done()
    conn.close()
    return result
