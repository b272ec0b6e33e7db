"""Run a Core statement on the driver's cursor: SQLAlchemy compiles it once, per dialect.

Why: the worker runs the same three statements for every charge, and SQLAlchemy's execution
path (cache key, parameter and result set-up, ``CursorResult``) cost ~0.1 ms of CPU per
statement here, against the statement's own round trip; with 32 threads on one GIL that CPU is
what bounds charges/s (docs/benchmarks.md). ``RawStatement`` keeps what matters of that path:
the SQL and parameter casts SQLAlchemy compiled, each column type's own bind and result
processors (``UTCDateTime``, ``JSON``), and the caller's transaction (the statement runs on
the ``Connection``'s own driver connection, so a test's savepoint isolation still holds).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

__all__ = ["RawStatement"]

_Proc = Callable[[Any], Any]


class _Compiled(NamedTuple):
    sql: str
    defaults: dict[str, Any]
    binds: tuple[tuple[str, _Proc], ...]
    columns: tuple[str, ...]
    results: tuple[tuple[int, _Proc], ...]


class RawStatement:
    """A statement compiled once per dialect, executed on the DBAPI cursor.

    Only for statements whose parameters are all named by the caller or fixed in the
    statement (no ``expanding`` IN lists) and whose dialect uses a named paramstyle.
    """

    #: Statements run this way in this process (SQLAlchemy's cursor events do not see them;
    #: bench/charge_cpu.py adds this to its count). Approximate under threads.
    executed = 0

    def __init__(self, stmt: ClauseElement) -> None:
        self._stmt = stmt
        self._by_dialect: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        if dialect.paramstyle not in ("pyformat", "named"):
            raise ValueError(f"RawStatement needs named parameters; {dialect.name} uses "
                             f"{dialect.paramstyle}")  # fmt: skip
        compiled = self._stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        binds = tuple(
            (name, proc)
            for bind, name in compiled.bind_names.items()
            if (proc := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        )
        # Values fixed in the statement (e.g. status = 'PROCESSING') travel as parameters.
        defaults = {name: bind.effective_value for bind, name in compiled.bind_names.items()
                    if not bind.required}  # fmt: skip
        columns: tuple[str, ...] = ()
        results: tuple[tuple[int, _Proc], ...] = ()
        # A SELECT's columns, or an INSERT/UPDATE's RETURNING columns.
        cols = list(getattr(self._stmt, "exported_columns", ()))
        if cols:
            columns = tuple(c.key for c in cols)
            results = tuple(
                (i, proc)
                for i, c in enumerate(cols)
                if (proc := c.type.dialect_impl(dialect).result_processor(dialect, None))
                is not None
            )
        return _Compiled(compiled.string, defaults, binds, columns, results)

    def execute(self, conn: Connection, params: dict[str, Any]) -> Any:
        """Run in ``conn``'s transaction, on its driver connection; read the result with
        ``first()`` (one row, column types' result processors applied) or ``rowcount``."""
        dialect = conn.dialect
        c = self._by_dialect.get(dialect.name)
        if c is None:
            c = self._by_dialect[dialect.name] = self._compile(dialect)
        values = {**c.defaults, **params}
        for name, proc in c.binds:
            if name in values:
                values[name] = proc(values[name])
        cursor = conn.connection.cursor()
        cursor.execute(c.sql, values)
        RawStatement.executed += 1
        return _Result(cursor, c)


class _Row(dict[str, Any]):
    """A row read by column key, as ``row.status`` on a SQLAlchemy ``Row``."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None  # so getattr(row, x, default) still works


class _Result:
    def __init__(self, cursor: Any, compiled: _Compiled) -> None:
        self._cursor = cursor
        self._c = compiled

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def first(self) -> _Row | None:
        raw = self._cursor.fetchone() if self._cursor.description else None
        self._cursor.close()
        if raw is None:
            return None
        values = list(raw)
        for i, proc in self._c.results:
            values[i] = proc(values[i])
        return _Row(zip(self._c.columns, values, strict=True))

    def close(self) -> None:
        self._cursor.close()
