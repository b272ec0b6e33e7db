"""Wait for a condition with a deadline (the only test module allowed to sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

__all__ = ["wait_until"]


def wait_until(
    probe: Callable[[], T],
    *,
    timeout_seconds: float = 10.0,
    interval_seconds: float = 0.05,
    message: str = "condition",
) -> T:
    """Poll ``probe`` until it returns a truthy value; fail with the last value seen."""
    deadline = time.monotonic() + timeout_seconds
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_seconds}s waiting for {message}; last={last!r}"
            )
        time.sleep(interval_seconds)
