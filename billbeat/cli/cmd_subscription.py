"""``billbeat subscription ...``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from billbeat.cli._common import MAX_ID, JsonOpt, runtime, whole_krw
from billbeat.cli.errors import CliError
from billbeat.cli.output import emit_json, emit_record, emit_table, subscription_doc
from billbeat.service import (
    cancel_subscription,
    create_subscription,
    get_subscription,
    list_subscriptions,
    pause_subscription,
    resume_subscription,
    update_subscription,
)
from billbeat.service.subscriptions import customer_key_of
from models import Subscription

__all__ = ["subscription_app"]

subscription_app = typer.Typer(help="Subscriptions: amount + cron cycle.", no_args_is_help=True)

IdArg = Annotated[int, typer.Argument(help="Subscription id.", metavar="ID", min=1, max=MAX_ID)]


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            "start", "must be ISO 8601 with an offset, e.g. 2025-05-01T09:00:00+09:00"
        ) from None


def _show(title: str, doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    else:
        emit_record(title, doc)


def _doc(session: Session, sub: Subscription) -> dict[str, Any]:
    return subscription_doc(sub, customer_key_of(session, sub))


@subscription_app.command("create")
def create(
    ctx: typer.Context,
    customer_key: Annotated[str, typer.Option(help="The customer's customerKey.")],
    amount: Annotated[int, typer.Option(help="KRW per cycle, 100..100000000.", parser=whole_krw)],
    order_name: Annotated[str, typer.Option(help="Shown on the receipt, 1-100 characters.")],
    cron: Annotated[str, typer.Option(help="Cycle, e.g. '0 9 1 * *' (09:00 on the 1st).")],
    timezone: Annotated[str, typer.Option(help="IANA zone of the cron times.")] = "Asia/Seoul",
    start: Annotated[
        str | None, typer.Option(help="ISO 8601 with offset; first cycle at or after it.")
    ] = None,
    tax_free_amount: Annotated[
        int, typer.Option(help="Tax-free part of amount, KRW.", parser=whole_krw)
    ] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Create a subscription (charges nothing now; the first cycle is charged when due).

    Example: billbeat subscription create --customer-key cus_... --amount 9900
    --order-name "Premium monthly" --cron "0 9 1 * *" --json
    """
    rt = runtime(ctx)
    start_at = _parse_start(start)
    with rt.session() as session:
        sub = create_subscription(
            session, customer_key=customer_key, amount=amount, order_name=order_name,
            cron=cron, timezone=timezone, start=start_at, tax_free_amount=tax_free_amount,
            now=rt.clock.now(),
        )  # fmt: skip
        doc = _doc(session, sub)
    _show("subscription created", doc, as_json)


@subscription_app.command("update")
def update(
    ctx: typer.Context,
    sub_id: IdArg,
    amount: Annotated[int | None, typer.Option(help="New KRW per cycle.", parser=whole_krw)] = None,
    cron: Annotated[str | None, typer.Option(help="New cycle.")] = None,
    order_name: Annotated[str | None, typer.Option(help="New order name.")] = None,
    timezone: Annotated[str | None, typer.Option(help="New IANA zone.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change amount, order name (later charges only), cron or zone (next cycle recomputed).

    Example: billbeat subscription update 7 --amount 12900 --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        sub = update_subscription(
            session, sub_id, amount=amount, cron=cron, order_name=order_name,
            timezone=timezone, now=rt.clock.now(),
        )  # fmt: skip
        doc = _doc(session, sub)
    _show("subscription updated", doc, as_json)


def _transition(name: str, fn: Callable[..., Subscription]) -> None:
    def command(ctx: typer.Context, sub_id: IdArg, as_json: JsonOpt = False) -> None:
        rt = runtime(ctx)
        with rt.session() as session:
            sub = fn(session, sub_id, now=rt.clock.now())
            doc = _doc(session, sub)
        _show(f"subscription {sub.status.lower()}", doc, as_json)

    command.__doc__ = {
        "pause": "Pause: no new cycles until resumed.\n\nExample: billbeat subscription pause 7",
        "resume": "Resume a PAUSED or UNPAID subscription from the next cycle (missed cycles "
        "are not charged).\n\nExample: billbeat subscription resume 7 --json",
        "cancel": "Cancel for good; charges not yet sent are closed.\n\n"
        "Example: billbeat subscription cancel 7 --json",
    }[name]
    subscription_app.command(name)(command)


_transition("pause", pause_subscription)
_transition("resume", resume_subscription)
_transition("cancel", cancel_subscription)


@subscription_app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="ACTIVE, PAST_DUE, PAUSED, ...")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List subscriptions.

    Example: billbeat subscription list --status ACTIVE --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        docs = [_doc(session, s) for s in list_subscriptions(session, status=status)]
    if as_json:
        emit_json(docs)
        return
    cols = ("id", "customerKey", "orderName", "amount", "cron", "timezone", "status",
            "nextChargeAt")  # fmt: skip
    emit_table("subscriptions", cols, ([d[c] for c in cols] for d in docs))


@subscription_app.command("show")
def show(ctx: typer.Context, sub_id: IdArg, as_json: JsonOpt = False) -> None:
    """Show one subscription.

    Example: billbeat subscription show 7 --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        doc = _doc(session, get_subscription(session, sub_id))
    _show("subscription", doc, as_json)
