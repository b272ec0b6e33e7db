"""Process-wide dependencies of the tasks, built once per process from settings.

Tasks call ``get_deps()``; nothing is built at import. Tests running an in-process worker
install their own with ``set_deps()``. A forked pool child rebuilds its own (engines and HTTP
sessions must not cross a fork).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from billbeat.settings import Settings, get_settings
from models.crypto import BillingKeyCipher
from models.db import make_engine, make_session_factory
from scheduler.clock import Clock, SystemClock
from toss import TossClient
from worker.breaker import SetupBreaker
from worker.publish import CeleryPublisher, Publisher

__all__ = ["Deps", "get_deps", "set_deps", "reset_deps", "build_deps"]


@dataclass
class Deps:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    toss: TossClient
    clock: Clock
    cipher: BillingKeyCipher
    publisher: Publisher
    pid: int = field(default_factory=os.getpid)
    #: Process-local setup-error circuit breaker (worker/breaker.py).
    breaker: SetupBreaker = field(default_factory=SetupBreaker)


_lock = threading.Lock()
_deps: Deps | None = None


def build_deps(settings: Settings, *, clock: Clock | None = None) -> Deps:
    from worker.app import app

    engine = make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
    )
    return Deps(
        settings=settings,
        engine=engine,
        session_factory=make_session_factory(engine),
        toss=TossClient.from_settings(settings),
        clock=clock or SystemClock(),
        cipher=BillingKeyCipher(settings.encryption_keys),
        publisher=CeleryPublisher(app),
        breaker=SetupBreaker(base_seconds=settings.setup_pause_seconds),
    )


def get_deps() -> Deps:
    global _deps
    with _lock:
        if _deps is None or _deps.pid != os.getpid():
            _deps = build_deps(get_settings())
        return _deps


def set_deps(deps: Deps | None) -> None:
    global _deps
    with _lock:
        _deps = deps


def reset_deps() -> None:
    set_deps(None)
