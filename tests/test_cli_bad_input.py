"""Bad input to the CLI: non-zero exit, exactly one line on stderr, no traceback, nothing
written and nothing sent to Toss."""

from __future__ import annotations

import pytest

from tests.helpers.billing_rows import OK_CARD
from tests.helpers.cli_runner import Cli


@pytest.fixture
def ready(cli: Cli) -> tuple[Cli, str, int]:
    ck, sub_id = cli.seed()
    return cli, ck, sub_id


def _create(ck: str, **over: str) -> list[str]:
    opts = {"--customer-key": ck, "--amount": "9900", "--order-name": "Premium",
            "--cron": "0 9 1 * *", **over}  # fmt: skip
    args = ["subscription", "create"]
    for k, v in opts.items():
        args += [k, v]
    return args


CREATE_CASES = {
    "amount 0": ({"--amount": "0"}, 2, "amount"),
    "amount -1": ({"--amount": "-1"}, 2, "amount"),
    "amount 99": ({"--amount": "99"}, 2, "amount"),
    "amount 1.5": ({"--amount": "1.5"}, 2, "--amount"),
    "amount abc": ({"--amount": "abc"}, 2, "--amount"),
    "amount 10**12": ({"--amount": str(10**12)}, 2, "amount"),
    "bad cron": ({"--cron": "61 * * * *"}, 2, "cron"),
    "cron words": ({"--cron": "every monday"}, 2, "cron"),
    "bad timezone": ({"--timezone": "Asia/Nowhere"}, 2, "timezone"),
    "bad customer key": ({"--customer-key": "bad key!"}, 2, "customer_key"),
    "unknown customer": ({"--customer-key": "cus_nobody"}, 1, "customer_key"),
    "bad start": ({"--start": "next tuesday"}, 2, "start"),
    "naive start": ({"--start": "2030-01-01T09:00:00"}, 2, "start"),
    "past start": ({"--start": "2020-01-01T09:00:00+09:00"}, 2, "start"),
    "tax free > amount": ({"--tax-free-amount": "10000"}, 2, "tax_free_amount"),
    "empty order name": ({"--order-name": ""}, 2, "order_name"),
}


def _assert_one_line_failure(code: int, out: str, err: str, want_code: int, needle: str) -> None:
    assert code == want_code, err
    assert out == ""
    assert err.startswith("error: ") and err.endswith("\n")
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert needle in err


@pytest.mark.parametrize("case", CREATE_CASES)
def test_bad_subscription_create(ready, case):
    cli, ck, _ = ready
    over, want, needle = CREATE_CASES[case]
    before = cli.counts()
    _assert_one_line_failure(*cli.run(*_create(ck, **over), "--json"), want, needle)
    assert cli.counts() == before


@pytest.mark.parametrize(
    ("args", "want", "needle"),
    [
        (["subscription", "show", "999"], 1, "no subscription with id 999"),
        (["subscription", "update", "999", "--amount", "1000"], 1, "no subscription"),
        (["subscription", "update", "{sid}", "--amount", "0"], 2, "amount"),
        (["subscription", "update", "{sid}", "--cron", "x"], 2, "cron"),
        (["subscription", "update", "{sid}"], 2, "update"),
        (["subscription", "pause", "999"], 1, "no subscription"),
        (["subscription", "resume", "{sid}"], 1, "only PAUSED or UNPAID"),
        (["subscription", "cancel", "abc"], 2, "ID"),
        (["subscription", "list", "--status", "nope"], 2, "status"),
        (["charge", "show", "999"], 1, "no charge"),
        (["charge", "retry", "999"], 1, "no charge"),
        (["charge", "list", "--subscription", "999"], 1, "no subscription"),
        (["charge", "list", "--status", "nope"], 2, "status"),
        (["customer", "create", "--email", "nope"], 2, "email"),
        (["subscription", "frobnicate"], 2, "No such command"),
    ],
)
def test_bad_commands(ready, args, want, needle):
    cli, _, sid = ready
    args = [a.replace("{sid}", str(sid)) for a in args]
    before = cli.counts()
    _assert_one_line_failure(*cli.run(*args), want, needle)
    assert cli.counts() == before


@pytest.mark.parametrize(
    ("over", "needle"),
    [
        ({"--card-number": "4330abcd12341234"}, "card_number"),
        ({"--expiry-month": "13"}, "expiry_month"),
        ({"--expiry-year": "2030"}, "expiry_year"),
        ({"--identity-number": "1234"}, "identity_number"),
        ({"--card-password": "1234"}, "card_password"),
    ],
)
def test_bad_card_input_sends_nothing(ready, sandbox, over, needle):
    cli, ck, _ = ready
    opts = {"--customer-key": ck, "--card-number": OK_CARD, "--expiry-year": "30",
            "--expiry-month": "12", "--identity-number": "900101", **over}  # fmt: skip
    args = ["card", "register"] + [x for kv in opts.items() for x in kv]
    before = cli.counts()
    code, out, err = cli.run(*args)
    _assert_one_line_failure(code, out, err, 2, needle)
    assert OK_CARD not in err and "4330abcd" not in err
    assert cli.counts() == before


def test_toss_refusal_is_one_line_with_code(ready):
    cli, ck, _ = ready
    before = cli.counts()
    code, out, err = cli.run("card", "register", "--customer-key", ck, "--card-number",
                             "4000000000009995", "--expiry-year", "30", "--expiry-month", "12",
                             "--identity-number", "900101")  # fmt: skip
    _assert_one_line_failure(code, out, err, 1, "card: INVALID_CARD_NUMBER: ")
    assert "4000000000009995" not in err
    assert cli.counts() == before


def test_bad_settings_is_one_line(cli, monkeypatch):
    monkeypatch.setenv("BILLBEAT_TICK_SECONDS", "-1")
    _assert_one_line_failure(*cli.run("subscription", "list"), 2, "BILLBEAT_TICK_SECONDS")


def test_bad_encryption_key_is_one_line_and_calls_nothing(ready, monkeypatch, sandbox):
    cli, ck, _ = ready
    monkeypatch.setenv("BILLBEAT_ENCRYPTION_KEY", "not-a-fernet-key")
    before = cli.counts()
    code, out, err = cli.run("card", "register", "--customer-key", ck, "--card-number", OK_CARD,
                             "--expiry-year", "30", "--expiry-month", "12",
                             "--identity-number", "900101")  # fmt: skip
    _assert_one_line_failure(code, out, err, 2, "BILLBEAT_ENCRYPTION_KEY")
    assert cli.counts() == before
