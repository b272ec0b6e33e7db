"""Bulk loading of bench data with PostgreSQL COPY (psycopg 3 ``cursor.copy``).

Rows go straight into the billbeat tables of a bench database (bench.common.bench_database);
ids are assigned here (1..n) and the sequences are moved past them afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

T0 = datetime(2026, 1, 1, tzinfo=UTC)

_SUB_COLS = ("id", "customer_id", "order_name", "amount", "tax_free_amount", "cron", "timezone",
             "status", "start_at", "next_charge_at", "created_at", "updated_at")  # fmt: skip


def copy_rows(conn: psycopg.Connection[Any], table: str, cols: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:  # fmt: skip
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def _fix_sequence(conn: psycopg.Connection[Any], table: str) -> None:
    conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                 f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")  # fmt: skip


def load_customers(url: str, customer_keys: Sequence[str],
                   encrypted_keys: Sequence[str] | None = None) -> None:  # fmt: skip
    """Customers 1..len(customer_keys); with ``encrypted_keys``, one ACTIVE billing key each."""
    with psycopg.connect(url) as conn:
        copy_rows(conn, "customers", ("id", "customer_key", "created_at"),
                  ((i + 1, ck, T0) for i, ck in enumerate(customer_keys)))  # fmt: skip
        if encrypted_keys is not None:
            copy_rows(conn, "billing_keys",
                      ("id", "customer_id", "billing_key_encrypted", "card_number_masked",
                       "status", "created_at"),
                      ((i + 1, i + 1, enc, "43301234****123*", "ACTIVE", T0)
                       for i, enc in enumerate(encrypted_keys)))  # fmt: skip
            _fix_sequence(conn, "billing_keys")
        _fix_sequence(conn, "customers")
        conn.commit()


def load_subscriptions(url: str, n: int, *, customers: int,
                       plan: Callable[[int], tuple[str, str, datetime]],
                       amount: int = 9900) -> None:  # fmt: skip
    """Subscriptions 1..n; ``plan(i) -> (cron, timezone, next_charge_at)``; customer i % c."""

    def rows() -> Iterable[tuple[Any, ...]]:
        for i in range(1, n + 1):
            cron, tz, next_at = plan(i)
            yield (i, 1 + i % customers, "bench plan", amount, 0, cron, tz, "ACTIVE", T0,
                   next_at, T0, T0)  # fmt: skip

    with psycopg.connect(url) as conn:
        copy_rows(conn, "subscriptions", _SUB_COLS, rows())
        _fix_sequence(conn, "subscriptions")
        conn.commit()
    analyze(url)


def analyze(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def execute(url: str, sql: str, params: Sequence[Any] | None = None) -> int:
    with psycopg.connect(url) as conn:
        cur = conn.execute(sql, params)
        conn.commit()
        return cur.rowcount


def scalar(url: str, sql: str, params: Sequence[Any] | None = None) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()
        return row[0] if row else None
