"""``billbeat customer ...`` and ``billbeat card ...``."""

from __future__ import annotations

from typing import Annotated

import typer

from billbeat.cli._common import JsonOpt, runtime
from billbeat.cli.output import card_doc, emit_json, emit_record
from billbeat.service import create_customer, register_card

__all__ = ["customer_app", "card_app"]

customer_app = typer.Typer(help="Customers (each has a random customerKey).", no_args_is_help=True)
card_app = typer.Typer(help="Cards (billing keys issued by Toss).", no_args_is_help=True)


@customer_app.command("create")
def customer_create(
    ctx: typer.Context,
    email: Annotated[str | None, typer.Option(help="E-mail, <= 100 characters.")] = None,
    name: Annotated[str | None, typer.Option(help="Name, <= 100 characters.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a customer.

    Example: billbeat customer create --email kim@example.com --name Kim --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        customer = create_customer(session, email=email, name=name, now=rt.clock.now())
        doc = {
            "customerKey": customer.customer_key,
            "email": customer.email,
            "name": customer.name,
        }
    if as_json:
        emit_json(doc)
    else:
        emit_record("customer created", doc)


@card_app.command("register")
def card_register(
    ctx: typer.Context,
    customer_key: Annotated[str, typer.Option(help="The customer's customerKey.")],
    card_number: Annotated[str, typer.Option(help="14-20 digits; never stored or printed.")],
    expiry_year: Annotated[str, typer.Option(help="Two digits YY, e.g. 28.")],
    expiry_month: Annotated[str, typer.Option(help="Two digits MM, 01-12.")],
    identity_number: Annotated[
        str, typer.Option(help="Birth date YYMMDD (6 digits) or business number (10 digits).")
    ],
    card_password: Annotated[
        str | None, typer.Option(help="First two digits of the card PIN (if required).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register a card: Toss issues a billing key, stored encrypted. It replaces the
    customer's previous card for all their subscriptions and reopens charges waiting for one.

    Example: billbeat card register --customer-key cus_... --card-number 4330123412341234
    --expiry-year 28 --expiry-month 12 --identity-number 900101 --json
    """
    rt = runtime(ctx)
    with rt.session() as session:
        key = register_card(
            session, customer_key=customer_key, card_number=card_number,
            expiry_year=expiry_year, expiry_month=expiry_month,
            identity_number=identity_number, card_password=card_password,
            toss=rt.toss, cipher=rt.cipher, now=rt.clock.now(),
        )  # fmt: skip
        doc = card_doc(key, customer_key)
    if as_json:
        emit_json(doc)
    else:
        emit_record("card registered", doc)
