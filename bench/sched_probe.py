"""One scheduler measurement in its own process (so its peak RSS is the scheduler's own).

    python bench/sched_probe.py '{"kind": "billbeat", "mode": "idle", ...}'

Prints one JSON line: the timings plus ``maxrss_mb`` (ru_maxrss of this process). Called by
bench/scheduler_bench.py; the data is loaded by the parent, never here.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402

QUEUE = "celery"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _app(broker: str) -> Any:
    from worker.app import make_app

    return make_app(broker_url=broker)


def _billbeat(cfg: dict[str, Any]) -> dict[str, Any]:
    from models.db import make_engine, make_session_factory
    from scheduler.tick import ChargeScheduler
    from worker.publish import CeleryPublisher, Publisher, RecordingPublisher

    engine = make_engine(cfg["db"], pool_size=2, max_overflow=0)
    publisher: Publisher = (RecordingPublisher() if cfg.get("no_publish")
                            else CeleryPublisher(_app(cfg["broker"])))  # fmt: skip
    sched = ChargeScheduler(make_session_factory(engine), publisher,
                            batch_size=cfg.get("batch_size", 1000))  # fmt: skip
    now = datetime.fromisoformat(cfg["now"])
    if cfg["mode"] == "idle":
        sched.tick(now)  # warm-up: connections, statement cache, the first sweep
        times = []
        for _ in range(cfg.get("passes", 15)):
            t0 = time.perf_counter()
            sched.tick(now)
            times.append((time.perf_counter() - t0) * 1000)
        return {"idle_ms": times}
    created, passes = 0, 0
    profiler = None
    if cfg.get("profile"):
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    t0 = time.perf_counter()
    while passes < cfg["expected"] // sched.batch_size + 20:
        sched.tick(now)
        passes += 1
        created += sched.last_pass.created
        if not sched.last_pass.more_due:
            break
    seconds = time.perf_counter() - t0
    if profiler is not None:
        profiler.stop()
        Path(cfg["profile"]).write_text(profiler.output_text(unicode=False, color=False))
    return {"created": created, "seconds": seconds, "passes": passes}


def _queue_len(broker: str) -> int:
    client = redis.Redis.from_url(broker)
    try:
        return int(client.llen(QUEUE))
    finally:
        client.close()


def _redbeat(cfg: dict[str, Any]) -> dict[str, Any]:
    from redbeat import RedBeatScheduler

    app = _app(cfg["broker"])
    app.conf.redbeat_redis_url = cfg["redbeat"]
    sched = RedBeatScheduler(app=app)
    sched.lock_key = None  # one beat: no distributed lock
    if cfg["mode"] == "idle":
        sched.tick()
        times = []
        for _ in range(cfg.get("passes", 15)):
            t0 = time.perf_counter()
            sched.tick()
            times.append((time.perf_counter() - t0) * 1000)
        return {"idle_ms": times}
    return _drain(sched, cfg)


def _drain(sched: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    before = _queue_len(cfg["broker"])
    t0 = time.perf_counter()
    dispatched = 0
    while time.perf_counter() - t0 < cfg.get("cap_seconds", 120):
        sched.tick()
        dispatched = _queue_len(cfg["broker"]) - before
        if dispatched >= cfg["expected"]:
            break
    return {"created": dispatched, "seconds": time.perf_counter() - t0}


def _default_beat(cfg: dict[str, Any]) -> dict[str, Any]:
    """Celery's own ``celery.beat.Scheduler`` holding N crontab entries in memory."""
    from celery.beat import Scheduler
    from celery.schedules import crontab

    app = _app(cfg["broker"])
    real_now = datetime.now(UTC)
    at = real_now - timedelta(hours=1)
    sched = Scheduler(app=app, lazy=True)
    every_day = crontab(minute=at.minute, hour=at.hour, app=app)
    sched.update_from_dict({f"sub-{i}": {"task": "billbeat.charge", "schedule": every_day,
                                         "args": (i,)} for i in range(cfg["n"])})  # fmt: skip
    for entry in sched.schedule.values():
        entry.last_run_at = real_now
    sched.tick()
    times = []
    for _ in range(cfg.get("passes", 5)):
        t0 = time.perf_counter()
        sched.tick()
        times.append((time.perf_counter() - t0) * 1000)
    overdue = at - timedelta(days=1, minutes=1)
    pct = cfg["due_pct"]
    for i in range(cfg["n"]):
        if i % 100 < pct:
            sched.schedule[f"sub-{i}"].last_run_at = overdue
    cfg["expected"] = cfg["n"] * pct // 100
    sched._heap = None  # entries were edited in place: rebuild the heap as beat would on sync
    return {"idle_ms": times, **_drain(sched, cfg)}


def main() -> int:
    cfg = json.loads(sys.argv[1])
    run = {"billbeat": _billbeat, "redbeat": _redbeat, "beat": _default_beat}[cfg["kind"]]
    result = run(cfg)
    result["maxrss_mb"] = _rss_mb()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
