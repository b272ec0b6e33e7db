"""Bits every command module uses: the ``--json`` option and the per-call Runtime."""

from __future__ import annotations

from typing import Annotated

import typer

from billbeat.cli.runtime import Runtime

__all__ = ["JsonOpt", "runtime", "MAX_ID"]

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
