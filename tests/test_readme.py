"""README.md stays true: its commands are run (CLI), exist (make targets, celery tasks)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Charge, ChargeStatus, Subscription
from models.db import make_engine
from tests.helpers.cli_runner import Cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _shell_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    text = "\n".join(blocks).replace("\\\n", " ")
    return [line.split("  #")[0].strip() for line in text.splitlines() if line.strip()]


COMMANDS = _shell_commands()


def test_make_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.M))
    mentioned = set(re.findall(r"`make ([a-z-]+)`", README))
    mentioned |= {c.split()[1] for c in COMMANDS if c.startswith("make ")}
    assert mentioned, "README mentions no make target"
    assert mentioned <= targets, mentioned - targets


def test_celery_calls_name_registered_tasks() -> None:
    import worker.tasks  # noqa: F401  (registers the shared tasks)
    from worker.app import app

    calls = [shlex.split(c) for c in COMMANDS if c.startswith("celery -A worker call ")]
    assert len(calls) >= 4
    for argv in calls:
        assert argv[4] in app.tasks, argv[4]
    table = set(re.findall(r"^\| `(billbeat\.[a-z_]+)` \|", README, flags=re.M))
    assert table and table <= set(app.tasks)


def test_cli_examples_run_as_written(cli: Cli) -> None:
    """Every `billbeat ...` line of the README, run in order with the ids it produced."""
    lines = [shlex.split(c)[1:] for c in COMMANDS if c.startswith("billbeat ")]
    assert len(lines) >= 8
    customer_key = ""
    for argv in lines:
        argv = [customer_key if a == "cus_..." else a for a in argv]
        if argv[:2] == ["charge", "retry"]:
            argv[2] = str(_declined_charge(cli))
        code, out, err = cli.run(*argv)
        assert code == 0, f"billbeat {' '.join(argv)}: {err}"
        if argv[:2] == ["customer", "create"]:
            customer_key = re.search(r'"customerKey": "([^"]+)"', out).group(1)  # type: ignore[union-attr]


def _declined_charge(cli: Cli) -> int:
    """A RETRY_SCHEDULED charge on the README's subscription, as dunning would leave it."""
    engine = make_engine(cli.url)
    with Session(engine) as s, s.begin():
        sub = s.scalars(select(Subscription)).first()
        assert sub is not None
        charge = Charge(
            subscription_id=sub.id, cycle_at=cli.clock.now(), order_id=f"bb-{sub.id}-readme",
            order_name=sub.order_name, amount=sub.amount, status=ChargeStatus.RETRY_SCHEDULED,
            attempt_count=1, decline_count=1, failure_code="REJECT_CARD_PAYMENT",
            created_at=cli.clock.now(), updated_at=cli.clock.now(),
        )  # fmt: skip
        s.add(charge)
        s.flush()
        s.execute(update(Subscription).values(status="PAST_DUE"))
        charge_id = charge.id
    engine.dispose()
    return charge_id
