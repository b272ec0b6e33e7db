"""A process-local circuit breaker for setup errors (bad Toss key, missing billing contract).

Every charge would fail the same way until an operator fixes the configuration, so after one
SETUP error the worker stops calling Toss for a growing pause (60 s doubling to 10 min). When
the pause is over, one charge is let through as a probe; any non-setup answer closes the
breaker. Process-local on purpose: each worker process learns it on its first call, which costs
one refused request, and needs no shared state.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from worker.retry_policy import SETUP_BASE_SECONDS, SETUP_CAP_SECONDS, backoff_seconds

__all__ = ["SetupBreaker"]

logger = logging.getLogger(__name__)

#: At most one ERROR line per process per this many seconds while the breaker is open.
LOG_INTERVAL_SECONDS = 60.0
#: How long other charges wait while a probe is in flight, seconds.
PROBE_WAIT_SECONDS = 15.0


class SetupBreaker:
    """Thread-safe; one per process (held by ``worker.deps.Deps``)."""

    def __init__(
        self, *, base_seconds: float = SETUP_BASE_SECONDS, cap_seconds: float = SETUP_CAP_SECONDS
    ) -> None:
        self._lock = threading.Lock()
        self._base = base_seconds
        self._cap = cap_seconds
        self._failures = 0
        self._open_until: datetime | None = None
        self._probing = False
        self._last_log_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None

    def blocked_until(self, now: datetime) -> datetime | None:
        """None if a call to Toss may go ahead now (closed, or this call is the probe);
        otherwise when the charge should be tried again."""
        with self._lock:
            if self._open_until is None:
                return None
            if now < self._open_until:
                return self._open_until
            if self._probing:
                return now + timedelta(seconds=PROBE_WAIT_SECONDS)
            self._probing = True
            return None

    def record_setup_error(self, now: datetime, code: str) -> datetime:
        """Open (or keep open) the breaker; returns when the next probe may run."""
        with self._lock:
            if self._open_until is not None and now < self._open_until and not self._probing:
                # A call that started before the breaker opened, failing the same way: the
                # same outage, not one more consecutive failure (threads must not each double
                # the pause).
                return self._open_until
            self._failures += 1
            pause = backoff_seconds(self._failures, base=self._base, cap=self._cap)
            self._open_until = now + timedelta(seconds=pause)
            self._probing = False
            due_log = self._last_log_at is None or (
                (now - self._last_log_at).total_seconds() >= LOG_INTERVAL_SECONDS
            )
            if due_log:
                self._last_log_at = now
            until = self._open_until
        if due_log:
            logger.error(
                "setup error: charging paused until the Toss key/contract is fixed: %s "
                "next_probe_at=%s",
                code,
                until.isoformat(),
            )
        return until

    def release_probe(self) -> None:
        """The probe never reached Toss (e.g. the charge was taken over): let another probe."""
        with self._lock:
            self._probing = False

    def record_ok(self) -> None:
        """A call got past authentication (or failed for another reason): close the breaker."""
        with self._lock:
            was_open = self._open_until is not None
            self._failures = 0
            self._open_until = None
            self._probing = False
        if was_open:
            logger.warning("setup error cleared: charging resumed")
