"""`billbeat status` and `billbeat forecast`: what an operator reads, from real rows."""

from __future__ import annotations

from tests.helpers.cli_runner import Cli


def _subscribe(cli: Cli, customer_key: str, amount: int, cron: str) -> int:
    doc = cli.json("subscription", "create", "--customer-key", customer_key, "--amount",
                   str(amount), "--order-name", "Plan", "--cron", cron)  # fmt: skip
    assert isinstance(doc, dict)
    return int(doc["id"])


def test_forecast_counts_cycles_per_day_with_amounts(cli: Cli) -> None:
    ck, _ = cli.seed()  # 9,900 KRW at 09:00 KST on the 1st; the clock is 2025-05-01 10:00 KST
    _subscribe(cli, ck, 1_000, "0 12 * * *")  # daily at noon KST
    doc = cli.json("forecast", "--days", "3")
    assert isinstance(doc, dict)
    assert doc["perDay"] == [
        {"date": "2025-05-01", "charges": 1, "amount": 1_000},
        {"date": "2025-05-02", "charges": 1, "amount": 1_000},
        {"date": "2025-05-03", "charges": 1, "amount": 1_000},
    ]
    month = cli.json("forecast", "--days", "31")
    assert isinstance(month, dict)
    assert month["totalCharges"] == 31 + 1  # 31 noons and June 1st 09:00
    assert month["totalAmount"] == 31 * 1_000 + 9_900


def test_forecast_skips_paused_subscriptions(cli: Cli) -> None:
    ck, sub = cli.seed()
    cli.json("subscription", "pause", str(sub))
    doc = cli.json("forecast", "--days", "60")
    assert isinstance(doc, dict) and doc["totalCharges"] == 0


def test_status_summarises_subscriptions_and_due_charges(cli: Cli) -> None:
    ck, sub = cli.seed()
    other = _subscribe(cli, ck, 2_000, "0 12 * * *")
    cli.json("subscription", "cancel", str(sub))
    doc = cli.json("status")
    assert isinstance(doc, dict)
    assert doc["subscriptions"] == {"ACTIVE": 1, "CANCELED": 1}
    assert doc["dueNext24h"] == {"subscriptions": 1, "amount": 2_000}
    assert doc["dunningQueue"] == [] and doc["recentFailures"] == []
    assert other > sub
    code, out, err = cli.run("status")
    assert code == 0 and "due in the next 24 h" in out and err == ""


def test_bad_forecast_days_is_one_line(cli: Cli) -> None:
    cli.seed()
    for days in ("0", "367", "x"):
        code, out, err = cli.run("forecast", "--days", days)
        assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err
