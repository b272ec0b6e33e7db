"""The CLI as a user runs it: ``main([...])`` in-process against a temp SQLite file, the real
sandbox, and one real subprocess of ``.venv/bin/billbeat``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from models import ChargeStatus, Subscription
from models.crypto import BillingKeyCipher, generate_key
from models.db import make_engine
from tests.fixtures.sandbox import TEST_SECRET_KEY
from tests.helpers.billing_rows import OK_CARD, add_charge

REPO = Path(__file__).resolve().parents[1]


def test_database_not_initialised_is_one_line(cli):
    code, out, err = cli.run("subscription", "list")
    assert code == 1 and out == ""
    assert err == "error: database not initialised: run `billbeat db upgrade`\n"


def test_full_happy_path(cli, sandbox):
    assert cli.json("db", "upgrade")["revision"]
    assert cli.run("db", "upgrade")[0] == 0  # idempotent

    customer_key = cli.json("customer", "create", "--email", "kim@example.com", "--name", "Kim")[
        "customerKey"
    ]
    assert customer_key.startswith("cus_")

    card = cli.json(
        "card", "register", "--customer-key", customer_key, "--card-number", OK_CARD,
        "--expiry-year", "30", "--expiry-month", "12", "--identity-number", "900101",
    )  # fmt: skip
    assert set(card) == {"customerKey", "cardNumberMasked", "cardCompany", "cardType",
                         "billingKeyId"}  # fmt: skip
    assert "*" in card["cardNumberMasked"] and OK_CARD not in json.dumps(card)

    sub = cli.json(
        "subscription", "create", "--customer-key", customer_key, "--amount", "9900",
        "--order-name", "Premium monthly", "--cron", "0 9 1 * *",
        "--start", "2025-05-01T10:00:00+09:00", "--tax-free-amount", "0",
    )  # fmt: skip
    assert sub["status"] == "ACTIVE" and sub["nextChargeAt"] == "2025-06-01T00:00:00Z"
    assert {"id", "customerKey", "orderName", "amount", "taxFreeAmount", "cron", "timezone",
            "status", "nextChargeAt", "createdAt"} <= set(sub)  # fmt: skip
    assert sandbox.ledger() == []  # creating charged nothing
    sid = str(sub["id"])

    assert [s["id"] for s in cli.json("subscription", "list")] == [sub["id"]]
    assert cli.json("subscription", "list", "--status", "PAUSED") == []
    assert cli.json("subscription", "show", sid)["orderName"] == "Premium monthly"
    upd = cli.json("subscription", "update", sid, "--amount", "12900", "--cron", "0 9 15 * *")
    assert upd["amount"] == 12900 and upd["nextChargeAt"] == "2025-05-15T00:00:00Z"
    assert cli.json("subscription", "pause", sid)["status"] == "PAUSED"
    assert cli.json("subscription", "show", sid)["nextChargeAt"] is None
    assert cli.json("subscription", "resume", sid)["status"] == "ACTIVE"

    # a declined charge, as the worker leaves it
    engine = make_engine(cli.url)
    with Session(engine, expire_on_commit=False) as session:
        row = session.get(Subscription, int(sid))
        charge = add_charge(session, row, cycle_at=datetime(2025, 5, 15, tzinfo=UTC),
                            status=ChargeStatus.RETRY_SCHEDULED, attempt_count=1,
                            failure_code="REJECT_CARD_PAYMENT",
                            next_attempt_at=datetime(2025, 5, 16, tzinfo=UTC))  # fmt: skip
    engine.dispose()
    listed = cli.json("charge", "list", "--subscription", sid)
    assert listed == [{
        "id": charge.id, "orderId": f"bb-{sid}-20250515000000", "subscriptionId": int(sid),
        "status": "RETRY_SCHEDULED", "amount": 12900, "attempts": 1, "paymentKey": None,
        "failureCode": "REJECT_CARD_PAYMENT", "cycleAt": "2025-05-15T00:00:00Z",
    }]  # fmt: skip
    shown = cli.json("charge", "show", str(charge.id))
    assert shown["calls"] == [] and shown["nextAttemptAt"] == "2025-05-16T00:00:00Z"
    cli.clock.set(datetime(2025, 5, 15, 3, tzinfo=UTC))
    retried = cli.json("charge", "retry", str(charge.id))
    assert retried["status"] == "RETRY_SCHEDULED"
    assert cli.json("charge", "show", str(charge.id))["nextAttemptAt"] == "2025-05-15T03:00:00Z"

    canceled = cli.json("subscription", "cancel", sid)
    assert canceled["status"] == "CANCELED" and canceled["canceledAt"]
    assert cli.json("charge", "list", "--status", "FAILED")[0]["failureCode"] == (
        "SUBSCRIPTION_CANCELED"
    )

    # human output: tables, no secrets
    for args in (("subscription", "list"), ("charge", "list"), ("charge", "show", "1")):
        code, out, err = cli.run(*args)
        assert code == 0 and err == "" and out.strip()


def test_keys_generate_and_rotate(cli):
    cli.json("db", "upgrade")
    key = cli.json("keys", "generate")["key"]
    BillingKeyCipher([key])  # a valid Fernet key
    ck = cli.json("customer", "create", "--email", "a@b.co")["customerKey"]
    cli.register_card(ck, OK_CARD)
    os.environ["BILLBEAT_ENCRYPTION_KEY"] = f"{key},{cli.key}"  # monkeypatch restores it
    assert cli.json("keys", "rotate") == {"rotated": 1}
    os.environ["BILLBEAT_ENCRYPTION_KEY"] = key  # the old key is no longer needed
    code, out, err = cli.run("keys", "rotate")
    assert code == 0, err


def test_check_reports_each_service(cli):
    cli.json("db", "upgrade")
    code, out, err = cli.run("check", "--json")
    doc = json.loads(out)
    by_name = {c["name"]: c for c in doc["checks"]}
    assert by_name["database"]["ok"] and by_name["encryption_key"]["ok"]
    assert "test mode" in by_name["toss_secret_key"]["detail"]
    assert code == (0 if doc["ok"] else 1)


def test_sandbox_help_is_forwarded(cli):
    code, out, err = cli.run("sandbox", "--help")
    assert code == 0
    assert "--port" in out + err


def test_real_entry_point_subprocess(tmp_path, sandbox_url):
    exe = REPO / ".venv" / "bin" / "billbeat"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/b.db",
        "TOSS_API_BASE": sandbox_url,
        "TOSS_SECRET_KEY": TEST_SECRET_KEY,
        "BILLBEAT_ENCRYPTION_KEY": generate_key(),
        # The editable install predates toss/__init__.py; the repo root on the path keeps
        # the entry point importing the regular packages either way.
        "PYTHONPATH": str(REPO),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(exe), *args], env=env, cwd=tmp_path, capture_output=True,
                              text=True, timeout=60, check=False)  # fmt: skip

    assert run("db", "upgrade").returncode == 0
    done = run("customer", "create", "--email", "a@b.co", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["customerKey"].startswith("cus_")
    bad = run("subscription", "create", "--customer-key", "x", "--amount", "abc",
              "--order-name", "n", "--cron", "0 9 1 * *")  # fmt: skip
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.splitlines()) == 1 and "--amount" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert sys.executable  # same interpreter family
