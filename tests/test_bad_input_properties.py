"""Hostile input, property-based (hypothesis), for the CLI (in-process ``billbeat.cli.main``)
and the service layer: wrong types, huge strings, control characters, SQL fragments, invalid
cron and time zones, bad amounts and customerKeys. Each is refused with one clear line, a
non-zero exit, and nothing written. (tests/test_cli_bad_input.py and tests/test_service_*
hold the hand-picked cases; these widen them.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billbeat.service.customers import create_customer
from billbeat.service.errors import ServiceError
from billbeat.service.subscriptions import update_subscription
from tests.helpers.billing_rows import OK_CARD, row_counts
from tests.helpers.cli_runner import Cli, cli_env
from tests.test_service_subscriptions import customer, sub  # noqa: F401 - fixtures

NOW = datetime(2025, 5, 1, 1, 0, tzinfo=UTC)
PROPS = settings(max_examples=40, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip

_SQL = ["'; DROP TABLE charges; --", "1 OR 1=1", "0); DELETE FROM subscriptions; --",
        "\" OR \"\"=\"", "1; SELECT pg_sleep(10)"]  # fmt: skip
_hostile_text = st.one_of(
    st.sampled_from(_SQL),
    st.text(min_size=1, max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=31), min_size=1, max_size=8),
    st.builds(lambda c, n: c * n, st.sampled_from("a9*\u00e9\ud55c"), st.integers(101, 5000)),
).filter(lambda s: not s.startswith("-"))  # an option name is a usage error of its own
_bad_amounts = st.one_of(
    st.integers(max_value=99).map(str),
    st.integers(min_value=100_000_001, max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.decimals(allow_nan=False, places=2).map(str).filter(lambda s: not s.isdigit()),
    _hostile_text.filter(lambda s: not s.strip().isdigit()),
).filter(lambda s: not s.startswith("-") or s[1:2].isdigit())
_bad_customer_keys = st.one_of(
    _hostile_text, st.just("cus_" + "0" * 32), st.just(""), st.just("a" * 51),
)  # fmt: skip


@pytest.fixture
def ready(tmp_path, monkeypatch, capsys, sandbox, sandbox_url) -> Iterator[tuple[Cli, str, int]]:
    for cli in cli_env(tmp_path, monkeypatch, capsys, sandbox_url):
        ck, sub_id = cli.seed()
        yield cli, ck, sub_id


def _refused(cli: Cli, args: list[str], *, may_succeed: bool = False) -> None:
    """Refused cleanly (or, when ``may_succeed``, accepted: the text was valid after all)."""
    before = cli.counts()
    code, out, err = cli.run(*args)
    if may_succeed and code == 0:
        return
    assert code in (1, 2), (args, code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), (args, err)
    assert "Traceback" not in err and out == ""
    assert cli.counts() == before, "nothing written"


def _create(ck: str, **over: str) -> list[str]:
    opts = {"--customer-key": ck, "--amount": "9900", "--order-name": "Premium",
            "--cron": "0 9 1 * *", **over}  # fmt: skip
    return ["subscription", "create", *[x for kv in opts.items() for x in kv]]


@PROPS
@given(amount=_bad_amounts)
@example(amount="100.0")  # a lax int parser took it (found by this test)
@example(amount="1e3")
def test_cli_bad_amounts(ready, amount):
    cli, ck, sub_id = ready
    _refused(cli, _create(ck, **{"--amount": amount}))
    _refused(cli, ["subscription", "update", str(sub_id), "--amount", amount])


@PROPS
@given(field=st.sampled_from(["--cron", "--timezone", "--start", "--tax-free-amount"]),
       value=_hostile_text)  # fmt: skip
def test_cli_hostile_schedule_fields(ready, field, value):
    cli, ck, _ = ready
    # A random text may be a valid zone ("UTC") or cron ("* * * * *"): then it may succeed.
    _refused(
        cli,
        _create(ck, **{field: value}),
        may_succeed=field in ("--cron", "--timezone") or value.isdigit(),
    )


@PROPS
@given(key=_bad_customer_keys)
def test_cli_bad_customer_keys(ready, key):
    cli, _, _ = ready
    _refused(cli, _create(key))
    _refused(
        cli,
        [
            "card",
            "register",
            "--customer-key",
            key,
            "--card-number",
            OK_CARD,
            "--expiry-year",
            "30",
            "--expiry-month",
            "12",
            "--identity-number",
            "900101",
        ],
    )


def test_cli_huge_id_is_one_line_error(ready):
    cli, _, _ = ready
    _refused(cli, ["charge", "show", "9" * 30])


@PROPS
@given(value=_hostile_text)
def test_cli_hostile_ids_and_texts(ready, value):
    cli, _, _ = ready
    for cmd in (["charge", "show"], ["subscription", "pause"], ["charge", "retry"]):
        _refused(cli, [*cmd, value])
    _refused(cli, ["customer", "create", "--email", value], may_succeed=True)
    _refused(cli, ["customer", "create", "--name", value], may_succeed=True)


_wrong_types = st.one_of(
    st.integers(), st.floats(), st.binary(max_size=8), st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1), st.booleans(),
)  # fmt: skip


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@PROPS
@given(field=st.sampled_from(["email", "name"]), value=st.one_of(_wrong_types, _hostile_text))
def test_service_create_customer_refuses_cleanly(db, field, value):
    before = row_counts(db)
    args = {"email": None, "name": None, field: value}
    try:
        create_customer(db, now=NOW, **args)
    except ServiceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(f"{field}:")
        assert row_counts(db) == before
    else:
        assert isinstance(value, str), "a wrong type was accepted"


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@PROPS
@given(field=st.sampled_from(["amount", "cron", "order_name", "timezone"]),
       value=st.one_of(_wrong_types, st.sampled_from(_SQL)))  # fmt: skip
def test_service_update_subscription_wrong_types(db, sub, field, value):  # noqa: F811
    if field == "order_name" and isinstance(value, str):
        return  # an SQL fragment is a fine order name (bound parameters, never SQL)
    if field == "amount" and type(value) is int and 100 <= value <= 100_000_000:
        return
    cols = ("amount", "cron", "order_name", "timezone", "next_charge_at", "status")
    before = [getattr(sub, c) for c in cols]
    with pytest.raises(ServiceError) as info:
        update_subscription(db, sub.id, now=NOW, **{field: value})
    assert "\n" not in str(info.value)
    db.rollback()
    db.refresh(sub)
    assert [getattr(sub, c) for c in cols] == before, "no partial write"
