"""Scenarios 6 and 9: three beats at once; beat down for three cycles (the catch-up rule)."""

from __future__ import annotations

from collections import defaultdict

import pytest

from models import ChargeStatus
from tests.chaos.harness import Chaos

pytestmark = [pytest.mark.chaos, pytest.mark.integration, pytest.mark.postgres]


def test_three_beats_at_once(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    chaos.seed()
    chaos.procs.worker(concurrency=8)
    for i in (1, 2, 3):
        chaos.procs.beat(f"beat-{i}")
    chaos.wait_cycles(chaos.size.cycles + 1)
    chaos.stop_cycles()
    chaos.settle()
    figures = chaos.audit(started, note="3 beats")
    assert figures.ok, figures


def test_beat_down_three_cycles(chaos: Chaos) -> None:
    started = chaos.clock_seconds()
    period = chaos.size.period_seconds
    chaos.seed()
    chaos.procs.worker(concurrency=8)
    chaos.procs.beat("beat")
    chaos.wait_cycles(1)
    chaos.procs.stop("beat")
    down_from = chaos.clock.now()
    chaos.wait(lambda: (chaos.clock.now() - down_from).total_seconds() >= 3 * period + 0.5,
               3 * period + 10, "three cycles without beat")  # fmt: skip
    before = chaos.cycles_created()
    chaos.procs.beat("beat-back")
    chaos.wait_cycles(before + 1)
    chaos.stop_cycles()
    chaos.settle()
    figures = chaos.audit(started, note="beat down 3 cycles")
    assert figures.ok, figures
    # The catch-up rule: the latest missed cycle is charged, the older missed ones SKIPPED.
    by_sub: dict[int, list[str]] = defaultdict(list)
    for c in sorted(chaos.charge_rows(), key=lambda c: (c.subscription_id, c.cycle_at)):
        by_sub[c.subscription_id].append(c.status)
    for sid, statuses in by_sub.items():
        skipped = statuses.count(ChargeStatus.SKIPPED)
        assert 2 <= skipped <= 3, (sid, statuses)
        first_skip = statuses.index(ChargeStatus.SKIPPED)
        run = statuses[first_skip : first_skip + skipped]
        assert run == [ChargeStatus.SKIPPED] * skipped, (sid, statuses)  # one run of them
        assert statuses[first_skip + skipped] == ChargeStatus.DONE, (sid, statuses)
