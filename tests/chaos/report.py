"""Figures each chaos scenario reports, and the table printed at the end of the run."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

__all__ = ["Figures", "record", "FIGURES", "table"]


@dataclass(frozen=True)
class Figures:
    scenario: str
    subscriptions: int
    cycles: int  #: CYCLE charge rows, SKIPPED included
    expected: int  #: charges that must be paid (cycles not SKIPPED by the catch-up rule)
    payments: int  #: approved payments in the sandbox's ledger
    duplicates: int  #: orderIds approved more than once
    missing: int  #: expected charges not DONE, or due cycles with no charge row
    #: DONE rows without their payment (or with another key/amount) + payments without a DONE row
    disagreeing: int
    seconds: float
    note: str = ""

    @property
    def ok(self) -> bool:
        return (self.duplicates, self.missing, self.disagreeing) == (0, 0, 0) and (
            self.payments == self.expected
        )


#: Figures recorded in this process, in order.
FIGURES: list[Figures] = []

_COLUMNS = [
    ("scenario", 34), ("subscriptions", 5), ("cycles", 6), ("expected", 8), ("payments", 8),
    ("duplicates", 4), ("missing", 7), ("disagreeing", 8), ("seconds", 7),
]  # fmt: skip
_HEAD = ["scenario", "subs", "cycles", "expected", "payments", "dup", "missing", "disagree", "secs"]


def record(figures: Figures) -> None:
    """Keep the figures; also append them as a JSON line to ``BILLBEAT_CHAOS_FIGURES``."""
    FIGURES.append(figures)
    path = os.environ.get("BILLBEAT_CHAOS_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(figures)) + "\n")


def table(rows: list[Figures]) -> str:
    """A plain-text table of the figures (one line per scenario)."""
    widths = [max(w, len(h)) for (_, w), h in zip(_COLUMNS, _HEAD, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(_HEAD, widths, strict=True))
    out = [line, "-" * len(line)]
    for f in rows:
        cells = [str(getattr(f, name)) for name, _ in _COLUMNS]
        text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        out.append(text + ("" if f.ok else "  <-- FAILED") + (f"  ({f.note})" if f.note else ""))
    return "\n".join(out)
