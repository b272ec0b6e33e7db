"""The one place that reads the wall clock or sleeps. Everything else takes a ``Clock``."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "SystemClock", "ManualClock", "require_aware"]


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime in UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A clock for tests: time moves only when told to. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start).astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        self.advance(seconds=seconds)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = require_aware(when).astimezone(UTC)


def require_aware(value: datetime) -> datetime:
    """Return ``value`` if it carries a UTC offset; raise ValueError on a naive datetime."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} where an aware one is required")
    return value
