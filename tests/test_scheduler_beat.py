"""The Celery beat shell: built lazily from settings, survives an unreachable database,
publishes through the real broker, and is what ``celery -A worker beat`` uses."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis
from celery.utils.imports import symbol_by_name

from billbeat.settings import load_settings
from models.db import make_engine, make_session_factory
from models.migrate import upgrade
from scheduler import ChargeScheduler
from scheduler.beat import BillbeatScheduler
from scheduler.clock import ManualClock
from tests.helpers.scheduling import charges_of, kst, make_subscription
from worker.app import make_app
from worker.publish import RecordingPublisher


def test_celery_app_uses_the_billbeat_scheduler() -> None:
    from worker.app import app

    assert symbol_by_name(app.conf.beat_scheduler) is BillbeatScheduler


def test_no_default_entries_and_nothing_built_when_lazy(tmp_path: Path) -> None:
    app = make_app(broker_url="memory://")
    settings = load_settings(database_url=f"sqlite:///{tmp_path}/x.db")
    lazy = BillbeatScheduler(app, lazy=True, settings=settings)
    assert lazy._charge_scheduler is None  # nothing built at construction
    beat = BillbeatScheduler(app, settings=settings)
    assert dict(beat.schedule) == {}  # no celery.backend_cleanup, no schedule file
    beat.close()


def test_pass_survives_unreachable_database_and_catches_up(
    tmp_path: Path, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    db_path = tmp_path / "later" / "billbeat.db"  # its folder does not exist yet: DB "down"
    url = f"sqlite:///{db_path}"
    settings = load_settings(database_url=url, tick_seconds=2.0)
    app = make_app(broker_url=redis_url)
    app.conf.include = []
    clock = ManualClock(kst(2025, 5, 1, 8))
    beat = BillbeatScheduler(app, lazy=True, clock=clock, settings=settings)

    caplog.set_level(logging.INFO, logger="scheduler.beat")
    assert beat.tick() == 2.0
    [line] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.getMessage().startswith("beat: pass failed, retrying in 2.0s: OperationalError")
    assert "\n" not in line.getMessage()

    db_path.parent.mkdir()  # the database comes back, with a subscription due meanwhile
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    sub_id = make_subscription(factory, cron="0 9 * * *", start_at=kst(2025, 4, 28))
    clock.set(kst(2025, 5, 1, 10))

    assert 0 < beat.tick() <= 2.0
    charges = charges_of(factory, sub_id)
    assert [c.status for c in charges] == ["SKIPPED"] * 3 + ["PENDING"]
    pending = charges[-1]
    assert pending.cycle_at == kst(2025, 5, 1, 9)
    assert "beat: pass succeeded again" in caplog.text

    client = redis.Redis.from_url(redis_url)
    [raw] = client.lrange("celery", 0, -1)
    message = json.loads(raw)
    assert message["headers"]["task"] == "billbeat.charge"
    assert message["headers"]["argsrepr"] == f"({pending.id},)"
    client.close()
    beat.close()
    engine.dispose()


def test_from_deps_builds_a_scheduler_for_the_pass_task(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/deps.db")
    upgrade(engine)
    publisher = RecordingPublisher()
    deps = SimpleNamespace(
        settings=load_settings(tick_seconds=3.0),
        session_factory=make_session_factory(engine),
        publisher=publisher,
    )
    sched = ChargeScheduler.from_deps(deps)  # type: ignore[arg-type]
    assert sched.max_tick_seconds == 3.0 and sched.publisher is publisher
    assert sched.tick(kst(2025, 5, 1)) == 3.0
    engine.dispose()
