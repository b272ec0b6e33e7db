"""Dunning policy as pure functions: when a declined charge is tried again, and when it stops.

Times are aware UTC datetimes; durations are whole seconds. Nothing here touches the database,
the clock or Toss, so the rules are tested with plain values (STYLE G2).

Schedule rule (docs/worker.md): the delays of ``BILLBEAT_RETRY_SCHEDULE`` are the gaps between
*planned* attempts, anchored on the first failure rather than on when the previous retry really
ran, so a retry that runs late does not push the later ones back. With ``1d,3d,5d`` the
retries are planned at first failure + 1d, + 4d and + 9d: 4 attempts in all, and a customer
waiting for a new card is given the same 9 days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.clock import require_aware

__all__ = [
    "TOSS_DAY_ZONE",
    "next_toss_day_start",
    "retry_offset_seconds",
    "soft_decline_retry_at",
    "card_deadline",
    "is_exhausted",
    "reconcile_delay_seconds",
]

#: Toss (and the card companies) count daily limits on the Korean calendar day.
TOSS_DAY_ZONE = ZoneInfo("Asia/Seoul")


def next_toss_day_start(now: datetime) -> datetime:
    """00:00 Asia/Seoul of the day after ``now``'s Korean date, as aware UTC."""
    local = require_aware(now).astimezone(TOSS_DAY_ZONE)
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=TOSS_DAY_ZONE)
    return midnight.astimezone(require_aware(now).tzinfo)


def retry_offset_seconds(decline_count: int, schedule_seconds: Sequence[int]) -> int:
    """Seconds from the first failure to the retry planned after the ``decline_count``-th
    decline: the sum of the first ``decline_count`` delays."""
    return sum(schedule_seconds[:decline_count])


def is_exhausted(decline_count: int, schedule_seconds: Sequence[int]) -> bool:
    """True once the declines used up the schedule (1 + len(schedule) attempts)."""
    return decline_count > len(schedule_seconds)


def soft_decline_retry_at(
    *,
    first_failure_at: datetime,
    decline_count: int,
    schedule_seconds: Sequence[int],
    now: datetime,
    daily_limit: bool = False,
) -> datetime | None:
    """When to retry after a soft decline, or None when the schedule is used up.

    ``decline_count`` counts this decline. The planned time is never before ``now``; for a
    daily-limit code (``retry_not_before_next_day``) it is also never before the next Korean
    day, because another attempt today fails the same way.
    """
    if is_exhausted(decline_count, schedule_seconds):
        return None
    planned = require_aware(first_failure_at) + timedelta(
        seconds=retry_offset_seconds(decline_count, schedule_seconds)
    )
    at = max(planned, require_aware(now))
    if daily_limit:
        at = max(at, next_toss_day_start(now))
    return at


def card_deadline(first_failure_at: datetime, schedule_seconds: Sequence[int]) -> datetime:
    """Until when a hard-declined charge waits for a new card: first failure + the whole
    schedule (the time the last dunning retry would have run)."""
    return require_aware(first_failure_at) + timedelta(seconds=sum(schedule_seconds))


def reconcile_delay_seconds(reconcile_count: int, ladder_seconds: Sequence[int]) -> int:
    """Delay before the next orderId lookup after ``reconcile_count`` lookups of the current
    unknown outcome; the last rung repeats. An empty ladder means one minute."""
    if not ladder_seconds:
        return 60
    return ladder_seconds[min(max(reconcile_count, 0), len(ladder_seconds) - 1)]
