"""The typer application: command groups assembled in one place."""

from __future__ import annotations

import typer

from billbeat.cli.cmd_charge import charge_app
from billbeat.cli.cmd_customer import card_app, customer_app
from billbeat.cli.cmd_ops import check, db_app, keys_app, sandbox
from billbeat.cli.cmd_report import forecast_cmd, run_cmd, status
from billbeat.cli.cmd_subscription import subscription_app

__all__ = ["app"]

app = typer.Typer(
    name="billbeat",
    help="billbeat: recurring card billing on Toss Payments. Every command takes --json.",
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(db_app, name="db")
app.add_typer(customer_app, name="customer")
app.add_typer(card_app, name="card")
app.add_typer(subscription_app, name="subscription")
app.add_typer(charge_app, name="charge")
app.add_typer(keys_app, name="keys")
app.command(
    "sandbox",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                      "help_option_names": []},
)(sandbox)  # fmt: skip
app.command("check")(check)
app.command("status")(status)
app.command("forecast")(forecast_cmd)
app.command("run")(run_cmd)
