"""Real-service checks: skip on a laptop without the service, fail loudly in CI."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

__all__ = ["in_ci", "require_service"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(probe: Callable[[], object], name: str) -> None:
    """Run ``probe``; on failure skip the test locally, but fail it when CI=true."""
    try:
        probe()
    except Exception as exc:  # any failure to reach the service
        message = f"{name} is not reachable: {type(exc).__name__}: {exc}"
        if in_ci():
            pytest.fail(f"{message} (CI=true: real services are required)")
        pytest.skip(message)
