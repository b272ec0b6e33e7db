"""RedBeat entries written in bulk, in RedBeat's own format (what ``entry.save()`` writes).

Entry i: task ``billbeat.charge`` args [i], a daily crontab at (real now - 1 h). Not due: last
run just after today's time (next run tomorrow). Due: last run the day before, so it is late.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import redis
from celery.schedules import crontab
from redbeat.decoder import RedBeatJSONEncoder

PREFIX = "redbeat:"
SCHEDULE_KEY = PREFIX + ":schedule"
CHUNK = 5_000


def _times(now: datetime) -> tuple[crontab, datetime, datetime, datetime]:
    at = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    ran_today = at + timedelta(seconds=30)
    return crontab(minute=at.minute, hour=at.hour), at, ran_today, at + timedelta(days=1)


def _meta(last_run_at: datetime) -> str:
    return json.dumps({"last_run_at": last_run_at}, cls=RedBeatJSONEncoder)


def load(url: str, n: int, now: datetime) -> None:
    """N entries, none due."""
    schedule, _at, ran, next_at = _times(now)
    template = {"name": "@NAME@", "task": "billbeat.charge", "args": [0], "kwargs": {},
                "options": {}, "schedule": schedule, "enabled": True}  # fmt: skip
    definition = json.dumps(template, cls=RedBeatJSONEncoder)
    meta, score = _meta(ran), next_at.timestamp()
    client = redis.Redis.from_url(url)
    for start in range(0, n, CHUNK):
        with client.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + CHUNK)):
                name = f"sub-{i}"
                body = definition.replace("@NAME@", name).replace("[0]", f"[{i}]")
                pipe.hset(PREFIX + name, mapping={"definition": body, "meta": meta})
                pipe.zadd(SCHEDULE_KEY, {PREFIX + name: score})
            pipe.execute()
    client.close()


def mark_due(url: str, n: int, pct: int, now: datetime) -> int:
    """Entries with i % 100 < pct become overdue (last run yesterday); returns the count."""
    _schedule, at, _ran, _next = _times(now)
    last = at - timedelta(days=1, minutes=1)
    meta, score = _meta(last), (at - timedelta(days=1)).timestamp()
    client = redis.Redis.from_url(url)
    due = [i for i in range(n) if i % 100 < pct]
    for start in range(0, len(due), CHUNK):
        with client.pipeline(transaction=False) as pipe:
            for i in due[start : start + CHUNK]:
                pipe.hset(f"{PREFIX}sub-{i}", "meta", meta)
                pipe.zadd(SCHEDULE_KEY, {f"{PREFIX}sub-{i}": score})
            pipe.execute()
    client.close()
    return len(due)
