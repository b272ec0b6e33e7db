"""Billing cycles: cron expressions evaluated on a subscription's wall clock.

Rules (README "Billing semantics"):

* Cron has 5 fields, or 6 with croniter's trailing seconds field (``* * * * * */10``); the
  ``@hourly/@daily/@weekly/@monthly/@yearly`` aliases and croniter's ``L`` work.
* Month end (Stripe's rule): a day-of-month of 29, 30 or 31 (a single number, with ``*`` as
  day-of-week) means "that day, or the last day of a shorter month": ``0 9 31 * *`` charges
  on Jan 31, Feb 28 (29), Mar 31, Apr 30... once a month, never skipped, never twice.
* Time zones: cron times are local wall-clock times in the subscription's IANA zone. A local
  time that does not exist (DST spring-forward gap) moves forward by the gap; a local time
  that happens twice (fall-back) is charged once, at its first occurrence.

All inputs and outputs are aware datetimes; outputs are in UTC.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from scheduler.clock import require_aware

__all__ = [
    "validate_cron",
    "validate_timezone",
    "next_cycle_at",
    "prev_cycle_at",
    "first_cycle_at_or_after",
    "cycles_between",
]

#: A day-of-month from which the month-end rule applies.
_MONTH_END_FROM = 29
#: Far enough to find any valid yearly cycle.
_SEARCH_LIMIT = 8


def validate_timezone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name; ValueError with a one-line reason otherwise."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Seoul")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Seoul") from None


def validate_cron(expr: str) -> str:
    """Return the normalised expression; ValueError with a one-line reason if it is not a
    usable cycle (bad syntax, wrong field count, or a date that never occurs)."""
    if not isinstance(expr, str):
        raise ValueError("must be a cron expression such as '0 9 1 * *'")
    text = " ".join(expr.split())
    if not text or len(text) > 120 or any(ord(c) < 32 for c in expr):
        raise ValueError(f"{expr!r} is not a cron expression such as '0 9 1 * *'")
    if not text.startswith("@") and len(text.split(" ")) not in (5, 6):
        raise ValueError(f"{text!r} must have 5 fields (or 6 with seconds last)")
    if not croniter.is_valid(text):
        raise ValueError(f"{text!r} is not a valid cron expression")
    try:
        _next_local(text, datetime(2024, 1, 1))
    except Exception:  # croniter raises several types for dates that never match
        raise ValueError(f"{text!r} never matches a date") from None
    return text


def _month_end_day(expr: str) -> int | None:
    """The day-of-month the month-end rule applies to, or None."""
    if expr.startswith("@"):
        return None
    fields = expr.split(" ")
    dom, dow = fields[2], fields[4]
    if dom.isdigit() and _MONTH_END_FROM <= int(dom) <= 31 and dow == "*":
        return int(dom)
    return None


def _with_dom(expr: str, dom: str) -> str:
    fields = expr.split(" ")
    fields[2] = dom
    return " ".join(fields)


def _is_short_month(local: datetime, day: int) -> bool:
    return calendar.monthrange(local.year, local.month)[1] < day


def _next_local(expr: str, after: datetime) -> datetime:
    """Next naive local time strictly after naive ``after``."""
    day = _month_end_day(expr)
    plain: datetime = croniter(expr, after).get_next(datetime)
    if day is None:
        return plain
    # Stripe's rule: in months shorter than ``day``, charge on the month's last day instead.
    it = croniter(_with_dom(expr, "L"), after)
    while True:
        last: datetime = it.get_next(datetime)
        if last >= plain:
            return plain
        if _is_short_month(last, day):
            return last


def _prev_local(expr: str, before: datetime) -> datetime:
    """Previous naive local time strictly before naive ``before``."""
    day = _month_end_day(expr)
    plain: datetime = croniter(expr, before).get_prev(datetime)
    if day is None:
        return plain
    it = croniter(_with_dom(expr, "L"), before)
    while True:
        last: datetime = it.get_prev(datetime)
        if last <= plain:
            return plain
        if _is_short_month(last, day):
            return last


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous time is its first occurrence; a time in a gap is read with the
    # offset before the gap, which lands after the gap once converted (moved forward).
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    return require_aware(instant).astimezone(zone).replace(tzinfo=None)


@lru_cache(maxsize=65536)
def next_cycle_at(cron: str, tz: str, after: datetime) -> datetime:
    """The first cycle instant strictly after ``after`` (UTC). Cached: a scheduler pass over
    many subscriptions sharing a cycle pays croniter once per distinct (cron, zone, time)."""
    zone = validate_timezone(tz)
    after_utc = require_aware(after).astimezone(UTC)
    local = _to_local(after_utc, zone)
    for _ in range(100_000):
        local = _next_local(cron, local)
        instant = _to_utc(local, zone)
        if instant > after_utc:  # a fall-back hour can map a later local time to earlier UTC
            return instant
    raise ValueError(f"{cron!r} has no cycle after {after_utc.isoformat()}")


def prev_cycle_at(cron: str, tz: str, before: datetime) -> datetime:
    """The last cycle instant at or before ``before`` (UTC)."""
    zone = validate_timezone(tz)
    before_utc = require_aware(before).astimezone(UTC)
    local = _to_local(before_utc + timedelta(seconds=1), zone)
    for _ in range(100_000):
        local = _prev_local(cron, local)
        instant = _to_utc(local, zone)
        if instant <= before_utc:
            return instant
    raise ValueError(f"{cron!r} has no cycle before {before_utc.isoformat()}")


def first_cycle_at_or_after(cron: str, tz: str, start: datetime) -> datetime:
    """The first cycle at or after ``start``: a subscription's first charge."""
    return next_cycle_at(cron, tz, require_aware(start).astimezone(UTC) - timedelta(microseconds=1))


def cycles_between(cron: str, tz: str, first: datetime, last: datetime) -> Iterator[datetime]:
    """Cycle instants in ``[first, last]`` in order (callers bound how many they take)."""
    at = first_cycle_at_or_after(cron, tz, first)
    while at <= last:
        yield at
        at = next_cycle_at(cron, tz, at)
