"""``billbeat status``, ``billbeat forecast`` and ``billbeat run``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from billbeat.cli._common import JsonOpt, runtime
from billbeat.cli.errors import EXIT_USAGE, CliError
from billbeat.cli.output import charge_doc, emit_json, emit_table, iso
from billbeat.service.reports import MAX_FORECAST_DAYS, forecast, status_summary
from scheduler.cycles import validate_timezone

__all__ = ["status", "forecast_cmd", "run_cmd"]

_QUEUE_COLUMNS = ("id", "subscriptionId", "status", "amount", "attempts", "failureCode",
                  "nextAttemptAt")  # fmt: skip


def status(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Subscriptions and charges by status, charges due in the next 24 h, recent failures and
    the dunning queue.

    Example: billbeat status --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        summary = status_summary(session, now=rt.clock.now())
        doc: dict[str, Any] = {
            **summary,
            "now": iso(summary["now"]),
            "recentFailures": [_queue_doc(c) for c in summary["recentFailures"]],
            "dunningQueue": [_queue_doc(c) for c in summary["dunningQueue"]],
        }
    if as_json:
        emit_json(doc)
        return
    emit_table("subscriptions", ("status", "count"), sorted(doc["subscriptions"].items()))
    emit_table("charges", ("status", "count"), sorted(doc["charges"].items()))
    due = doc["dueNext24h"]
    emit_table("due in the next 24 h", ("subscriptions", "amount (KRW)"),
               [(due["subscriptions"], f"{due['amount']:,}")])  # fmt: skip
    for title, key in (("recent failures", "recentFailures"), ("dunning queue", "dunningQueue")):
        emit_table(title, _QUEUE_COLUMNS, ([r[c] for c in _QUEUE_COLUMNS] for r in doc[key]))


def _queue_doc(charge: Any) -> dict[str, Any]:
    return {
        **charge_doc(charge),
        "nextAttemptAt": iso(charge.next_attempt_at),
        "waitingForCard": charge.waiting_for_card,
    }


def forecast_cmd(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(help=f"How many days ahead (1-{MAX_FORECAST_DAYS}).")] = 7,
    timezone: Annotated[str, typer.Option(help="Zone of the per-day buckets.")] = "Asia/Seoul",
    as_json: JsonOpt = False,
) -> None:
    """The charges the scheduler will create, per day, with amounts (charges nothing).

    Example: billbeat forecast --days 30 --json
    """
    if not 1 <= days <= MAX_FORECAST_DAYS:
        raise CliError("days", f"must be 1 to {MAX_FORECAST_DAYS}", exit_code=EXIT_USAGE)
    try:
        validate_timezone(timezone)
    except ValueError as exc:
        raise CliError("timezone", str(exc), exit_code=EXIT_USAGE) from None
    rt = runtime(ctx)
    with rt.session() as session:
        result = forecast(session, now=rt.clock.now(), days=days, tz=timezone)
    result["from"] = iso(result["from"])
    if as_json:
        emit_json(result)
        return
    rows = [(d["date"], d["charges"], f"{d['amount']:,}") for d in result["perDay"]]
    rows.append(("total", result["totalCharges"], f"{result['totalAmount']:,}"))
    emit_table(f"forecast, {days} days ({timezone})", ("date", "charges", "amount (KRW)"), rows)


def run_cmd() -> None:
    """Run worker, beat and Flower on embedded defaults (what `make run` does).

    Starts an embedded Redis unless REDIS_URL is set and the sandbox unless TOSS_API_BASE is
    set; migrates and seeds a demo on an empty database. Ctrl-C stops everything.
    """
    from billbeat.devrun import run

    raise typer.Exit(run())
