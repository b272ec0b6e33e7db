"""What a command needs, built lazily from the environment once per ``main()`` call:
settings, engine, sessions, Toss client, cipher and clock. Nothing connects until used."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from billbeat.cli.errors import EXIT_RUNTIME, CliError
from billbeat.settings import Settings, load_settings
from models.crypto import BillingKeyCipher
from models.db import make_engine, make_session_factory
from models.migrate import current_revision, head_revision
from scheduler.clock import Clock, SystemClock
from toss import TossClient

__all__ = ["Runtime", "NOT_INITIALISED"]

NOT_INITIALISED = "database not initialised: run `billbeat db upgrade`"


class Runtime:
    """Per-invocation dependencies. ``clock`` defaults to the system clock (tests pass a
    ManualClock to ``main``)."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        settings_factory: Callable[[], Settings] = load_settings,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._settings_factory = settings_factory
        self._migrations_checked = False

    @cached_property
    def settings(self) -> Settings:
        return self._settings_factory()

    @cached_property
    def engine(self) -> Engine:
        s = self.settings
        return make_engine(s.database_url, pool_size=s.db_pool_size, max_overflow=s.db_max_overflow)

    def session_factory(self) -> sessionmaker[Session]:
        """Sessions on a database that is reachable and migrated to head (else CliError)."""
        if not self._migrations_checked:
            if _missing_sqlite_file(self.settings.database_url):
                # Connecting would create an empty file; say what to do instead.
                raise CliError(None, NOT_INITIALISED, exit_code=EXIT_RUNTIME)
            try:
                current = current_revision(self.engine)
            except SQLAlchemyError as exc:
                raise CliError("database", _first_line(exc), exit_code=EXIT_RUNTIME) from None
            if current is None:
                raise CliError(None, NOT_INITIALISED, exit_code=EXIT_RUNTIME)
            if current != head_revision():
                raise CliError(
                    "database", f"at revision {current}, not head: run `billbeat db upgrade`",
                    exit_code=EXIT_RUNTIME,
                )  # fmt: skip
            self._migrations_checked = True
        return make_session_factory(self.engine)

    def session(self) -> Session:
        return self.session_factory()()

    @cached_property
    def cipher(self) -> BillingKeyCipher:
        return BillingKeyCipher(self.settings.encryption_keys)

    @cached_property
    def toss(self) -> TossClient:
        return TossClient.from_settings(self.settings)

    def close(self) -> None:
        """Release pooled connections and HTTP sessions opened by this invocation."""
        if "toss" in self.__dict__:
            self.toss.close()
        if "engine" in self.__dict__:
            self.engine.dispose()


def _missing_sqlite_file(url: str) -> bool:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or ":memory:" in url:
        return False
    return not Path(url[len(prefix) :].split("?", 1)[0]).exists()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or ["unreachable"])[0]
