"""Run ``billbeat`` in-process the way a user would, against a temp SQLite file and the
sandbox: environment variables only, stdout/stderr captured."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from billbeat.cli import main
from billbeat.settings import get_settings
from models.crypto import generate_key
from models.db import make_engine
from scheduler.clock import ManualClock
from tests.fixtures.sandbox import TEST_SECRET_KEY
from tests.helpers.billing_rows import row_counts

__all__ = ["Cli", "START", "cli_env"]

START = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)  # 10:00 KST


class Cli:
    """Runs ``billbeat`` in-process; ``json(...)`` appends --json and parses stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str], url: str, key: str) -> None:
        self.capsys = capsys
        self.url = url
        self.key = key
        self.clock = ManualClock(START)

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main(list(args), clock=self.clock)
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> object:
        code, out, err = self.run(*args, "--json")
        assert code == 0, err
        assert err == ""
        return json.loads(out)

    def register_card(self, customer_key: str, card_number: str = "4330123412341234") -> object:
        return self.json("card", "register", "--customer-key", customer_key,
                         "--card-number", card_number, "--expiry-year", "30",
                         "--expiry-month", "12", "--identity-number", "900101")  # fmt: skip

    def seed(self) -> tuple[str, int]:
        """Migrated database, one customer with a card and a monthly subscription."""
        self.json("db", "upgrade")
        doc = self.json("customer", "create", "--email", "kim@example.com")
        assert isinstance(doc, dict)
        self.register_card(doc["customerKey"])
        sub = self.json(
            "subscription", "create", "--customer-key", doc["customerKey"],
            "--amount", "9900", "--order-name", "Premium", "--cron", "0 9 1 * *",
        )  # fmt: skip
        assert isinstance(sub, dict)
        return doc["customerKey"], int(sub["id"])

    def counts(self) -> dict[str, int]:
        engine = make_engine(self.url)
        with Session(engine) as session:
            counts = row_counts(session)
        engine.dispose()
        return counts


def cli_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sandbox_url: str,
) -> Iterator[Cli]:
    """Body of a ``cli`` fixture: env pointing at a fresh SQLite file and the sandbox."""
    url = f"sqlite:///{tmp_path}/var/billbeat.db"
    key = generate_key()
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TOSS_API_BASE", sandbox_url)
    monkeypatch.setenv("TOSS_SECRET_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("BILLBEAT_ENCRYPTION_KEY", key)
    get_settings.cache_clear()
    yield Cli(capsys, url, key)
    get_settings.cache_clear()
