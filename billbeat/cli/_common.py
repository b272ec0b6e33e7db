"""Bits every command module uses: the ``--json`` option and the per-call Runtime."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from billbeat.cli.runtime import Runtime

__all__ = ["JsonOpt", "runtime", "MAX_ID", "whole_krw"]

#: Ids are 64-bit integers in the database; a larger number is refused before any query.
MAX_ID = 2**63 - 1

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table.")
]


def runtime(ctx: typer.Context) -> Runtime:
    """The Runtime that ``main`` passed as the click context object."""
    rt = ctx.find_root().obj
    assert isinstance(rt, Runtime), "commands run through billbeat.cli.main"
    return rt


def whole_krw(value: str) -> int:
    """Parse an amount option: whole KRW only ("100.0", "1e3" and "1,000" are refused, where
    a lax int parser would round or accept them); the range is the service layer's to check."""
    text = str(value).strip()
    if not re.fullmatch(r"-?[0-9]{1,30}", text):
        raise typer.BadParameter("must be a whole number of KRW, like 9900")
    return int(text)
