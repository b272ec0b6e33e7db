"""``billbeat charge ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from billbeat.cli._common import MAX_ID, JsonOpt, runtime
from billbeat.cli.output import charge_detail_doc, charge_doc, emit_json, emit_record, emit_table
from billbeat.service import get_charge, list_charges, retry_charge

__all__ = ["charge_app"]

charge_app = typer.Typer(help="Charges: one per subscription cycle.", no_args_is_help=True)

IdArg = Annotated[int, typer.Argument(help="Charge id.", metavar="ID", min=1, max=MAX_ID)]
_LIST_COLUMNS = ("id", "orderId", "subscriptionId", "status", "amount", "attempts",
                 "failureCode", "cycleAt")  # fmt: skip


@charge_app.command("list")
def list_(
    ctx: typer.Context,
    subscription: Annotated[
        int | None, typer.Option(help="Only this subscription's.", min=1, max=MAX_ID)
    ] = None,
    status: Annotated[str | None, typer.Option(help="PENDING, DONE, FAILED, ...")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List charges. ``attempts`` counts calls to Toss (not lookups or re-sends).

    Example: billbeat charge list --subscription 7 --status FAILED --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        docs = [
            charge_doc(c)
            for c in list_charges(session, subscription_id=subscription, status=status)
        ]
    if as_json:
        emit_json(docs)
    else:
        emit_table("charges", _LIST_COLUMNS, ([d[c] for c in _LIST_COLUMNS] for d in docs))


@charge_app.command("show")
def show(ctx: typer.Context, charge_id: IdArg, as_json: JsonOpt = False) -> None:
    """Show one charge and every call made to Toss for it.

    Example: billbeat charge show 12 --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        doc = charge_detail_doc(get_charge(session, charge_id))
    if as_json:
        emit_json(doc)
        return
    emit_record(f"charge {doc['id']}", doc)
    cols = ("number", "call", "idempotencyKey", "startedAt", "httpStatus", "outcome",
            "errorCode")  # fmt: skip
    emit_table("calls to Toss", cols, ([a[c] for c in cols] for a in doc["calls"]))


@charge_app.command("retry")
def retry(ctx: typer.Context, charge_id: IdArg, as_json: JsonOpt = False) -> None:
    """Make a declined (RETRY_SCHEDULED or FAILED) charge due now; the scheduler sends it
    within one tick. For an immediate run:
    celery -A worker call billbeat.retry_charge_now --args '[ID]'

    Example: billbeat charge retry 12 --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        doc = charge_doc(retry_charge(session, charge_id, now=rt.clock.now()))
    if as_json:
        emit_json(doc)
    else:
        emit_record("charge scheduled for retry", doc)
