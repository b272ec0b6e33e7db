"""The Celery beat shell around ``ChargeScheduler`` (``celery -A worker beat``).

Configured as the app's ``beat_scheduler``. Celery's beat service already is the loop: it
sleeps for whatever ``tick()`` returns. No schedule file is kept: the database is the
schedule, so any number of beats may run (their claims never overlap, docs/scheduler.md).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery
from celery.beat import Scheduler
from sqlalchemy import Engine

from billbeat.settings import Settings, get_settings
from models.db import make_engine, make_session_factory
from scheduler.clock import Clock, SystemClock
from scheduler.tick import ChargeScheduler

__all__ = ["BillbeatScheduler"]

log = logging.getLogger(__name__)


class BillbeatScheduler(Scheduler):
    """Runs one ``ChargeScheduler`` pass per beat tick.

    The engine, session factory and publisher are built from ``get_settings()`` on first use
    (``setup_schedule`` or the first tick), never at import. A pass that fails (database or
    broker unreachable) is logged in one line and retried after ``BILLBEAT_TICK_SECONDS``: beat
    keeps running and catches up (latest missed cycle charged, older ones SKIPPED) once the
    database is back. Entries in ``app.conf.beat_schedule`` still run, as in Celery's base class.
    """

    def __init__(
        self,
        app: Celery,
        *args: Any,
        clock: Clock | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self._settings = settings
        self._engine: Engine | None = None
        self._charge_scheduler: ChargeScheduler | None = None
        self._failing = False
        super().__init__(app, *args, **kwargs)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = get_settings()
        return self._settings

    def setup_schedule(self) -> None:
        # No default entries (celery.backend_cleanup): billbeat keeps no task results.
        self.merge_inplace(self.app.conf.beat_schedule)
        self.charge_scheduler  # noqa: B018 - build now so a bad DATABASE_URL fails at startup

    @property
    def charge_scheduler(self) -> ChargeScheduler:
        if self._charge_scheduler is None:
            # Imported here: worker.publish imports the Celery app package.
            from worker.publish import CeleryPublisher

            settings = self.settings
            self._engine = make_engine(
                settings.database_url,
                pool_size=min(settings.db_pool_size, 2),
                max_overflow=settings.db_max_overflow,
            )
            self._charge_scheduler = ChargeScheduler(
                make_session_factory(self._engine),
                CeleryPublisher(self.app),
                max_tick_seconds=settings.tick_seconds,
                stale_enqueue_seconds=settings.stale_enqueue_seconds,
                sweep_interval_seconds=settings.sweep_interval_seconds,
            )
            log.info(
                "beat: billbeat scheduler on %s, tick %.1fs",
                self._engine.url.render_as_string(hide_password=True),
                settings.tick_seconds,
            )
        return self._charge_scheduler

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """One pass; returns the seconds beat should sleep."""
        try:
            wait = self.charge_scheduler.tick(self._clock.now())
            if self._failing:
                log.info("beat: pass succeeded again")
                self._failing = False
        except Exception as exc:  # never let one bad pass stop beat
            lines = str(exc).strip().splitlines()  # SQL and parameters come on later lines
            log.error(
                "beat: pass failed, retrying in %.1fs: %s: %s",
                self.settings.tick_seconds,
                type(exc).__name__,
                lines[0][:200] if lines else "",
            )
            log.debug("beat: pass failure detail", exc_info=True)
            self._failing = True
            wait = self.settings.tick_seconds
        if self.schedule:
            wait = min(wait, super().tick(*args, **kwargs))
        return wait

    def close(self) -> None:
        super().close()
        if self._charge_scheduler is not None:
            self._charge_scheduler.close()  # publish a batch still in flight before exiting
        if self._engine is not None:
            self._engine.dispose()

    @property
    def info(self) -> str:
        return "    . db -> billbeat charge scheduler"
