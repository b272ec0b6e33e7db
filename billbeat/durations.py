"""Parsing of duration lists such as ``1d,3d,5d`` (units s/m/h/d)."""

from __future__ import annotations

import re

__all__ = ["parse_duration_seconds", "parse_duration_list"]

#: Seconds per unit letter.
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ONE = re.compile(r"^\s*(\d{1,7})\s*([smhd])\s*$")


def parse_duration_seconds(text: str) -> int:
    """Parse one duration like ``15s``, ``5m``, ``1h`` or ``3d`` into whole seconds.

    Raises ValueError with a one-line reason on anything else (no unit, zero, negative).
    """
    match = _ONE.match(text)
    if not match:
        raise ValueError(f"{text.strip()!r} is not a duration like 30s, 5m, 1h or 3d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{text.strip()!r} must be longer than zero")
    return seconds


def parse_duration_list(text: str) -> list[int]:
    """Parse ``1d,3d,5d`` into ``[86400, 259200, 432000]``; an empty string means no entries."""
    if not text.strip():
        return []
    return [parse_duration_seconds(part) for part in text.split(",")]
