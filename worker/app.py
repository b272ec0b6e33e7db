"""The Celery application (``celery -A worker ...``). Builds nothing that connects at import."""

from __future__ import annotations

import sys

from celery import Celery

from billbeat.settings import SettingsError, get_settings

__all__ = ["app", "make_app", "TASK_POLICY"]

#: How billbeat's tasks travel and are acknowledged; the benchmark's bare-Celery peers use the
#: same dict, so a comparison measures the work, not different settings.
TASK_POLICY: dict[str, object] = {
    # No result backend: outcomes live in the database; Flower shows results from events.
    "task_ignore_result": True,
    "task_serializer": "json",
    "accept_content": ["json"],
    # A charge is acknowledged only after it ran, and a worker lost mid-task gives the
    # message back: the task is safe to run twice (it claims the row first).
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 4,
    # Events for Flower, from workers and from the publishers (beat, CLI).
    "worker_send_task_events": True,
    "task_send_sent_event": True,
    "broker_connection_retry_on_startup": True,
    # Long waits live in the database, never in ETA messages; visibility_timeout only bounds
    # how long an unacknowledged message waits before Redis hands it to another worker.
    # max_connections: kombu's per-channel Redis pool (10 by default) does not wait for a free
    # connection; 64 greenlets acking at once (-P gevent) hit MaxConnectionsError, lost acks
    # and redelivered messages (measured: 40-177 failed acks per run; 0 with 100).
    "broker_transport_options": {"visibility_timeout": 3600, "max_connections": 100},
    "worker_hijack_root_logger": False,
    "timezone": "UTC",
    "enable_utc": True,
}


def make_app(broker_url: str | None = None) -> Celery:
    try:
        settings = get_settings()
    except SettingsError as exc:
        # `celery -A worker ...` imports this module: bad configuration is one line, no
        # traceback, and the process does not start.
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    app = Celery("billbeat", include=["worker.tasks"])
    app.conf.update(
        TASK_POLICY,
        broker_url=broker_url or settings.redis_url,
        beat_scheduler="scheduler.beat:BillbeatScheduler",
        beat_max_loop_interval=settings.tick_seconds,
    )
    return app


app = make_app()
