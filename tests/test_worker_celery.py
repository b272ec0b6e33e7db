"""A real Celery worker, in-process, on a real Redis database: billbeat.charge -> DONE.

The test builds its own app with ``make_app(broker_url=<flushed test db>)``; the tasks are
``shared_task``s, so they register on it. ``set_deps`` installs the test's dependencies.
"""

from __future__ import annotations

import logging

from celery.contrib.testing.worker import start_worker
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import worker.tasks  # noqa: F401  -- registers the shared tasks
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.fixtures.worker import make_worker_env
from tests.helpers.wait import wait_until
from worker import names
from worker.app import make_app
from worker.deps import set_deps


def test_send_task_charges_through_a_real_worker(
    committing_factory: sessionmaker[Session],
    engine: Engine,
    sandbox: SandboxHandle,
    redis_url: str,
) -> None:
    env = make_worker_env(committing_factory, engine, sandbox)
    cid, _, chid = env.setup()
    billing_key = env.add_card(cid)  # the newest ACTIVE key charges
    app = make_app(broker_url=redis_url)
    set_deps(env.deps)
    # Our own handler: the embedded worker sets up Celery logging, which pytest's caplog
    # does not see.
    lines: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    loggers = [logging.getLogger(n) for n in ("worker", "toss")]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        with start_worker(
            app, pool="solo", perform_ping_check=False, shutdown_timeout=10
        ):  # fmt: skip
            sent = app.send_task(names.CHARGE, args=[chid])
            assert sent.id
            wait_until(lambda: env.charge_row(chid).status == "DONE", timeout_seconds=20,
                       message="charge DONE")  # fmt: skip
    finally:
        set_deps(None)
        env.deps.toss.close()
        for lg in loggers:
            lg.removeHandler(handler)
    text = "\n".join(lines)
    assert len(sandbox.ledger()) == 1
    assert billing_key not in text and TEST_SECRET_KEY not in text
    assert f"charge_id={chid}" in text
