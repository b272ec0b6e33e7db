"""Service: subscription rules, transitions, and charges (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billbeat.service import (
    ConflictError,
    NotFoundError,
    ServiceError,
    cancel_subscription,
    create_customer,
    create_subscription,
    get_subscription,
    list_charges,
    list_subscriptions,
    pause_subscription,
    resume_subscription,
    retry_charge,
    update_subscription,
)
from models import ChargeStatus, SubscriptionStatus
from models.crypto import BillingKeyCipher, generate_key
from scheduler.cycles import validate_timezone
from tests.helpers.billing_rows import add_charge, customer_with_card, row_counts

NOW = datetime(2025, 5, 1, 0, 0, tzinfo=UTC)  # 09:00 KST
KST_9AM_JUNE_1 = datetime(2025, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def customer(db, toss_client, sandbox):
    return customer_with_card(
        db, toss=toss_client, cipher=BillingKeyCipher([generate_key()]), now=NOW
    )


@pytest.fixture
def sub(db, customer):
    return create_subscription(
        db, customer_key=customer.customer_key, amount=9900, order_name="Premium monthly",
        cron="0 9 1 * *", now=NOW + timedelta(seconds=1),
    )  # fmt: skip


def test_create_sets_first_cycle_and_charges_nothing(db, customer, sandbox):
    start = datetime(2025, 5, 20, tzinfo=UTC)
    s = create_subscription(
        db, customer_key=customer.customer_key, amount=100, order_name="x", cron="0 9 1 * *",
        timezone="Asia/Seoul", start=start, tax_free_amount=100, now=NOW,
    )  # fmt: skip
    assert s.status == SubscriptionStatus.ACTIVE
    assert s.next_charge_at == KST_9AM_JUNE_1
    assert s.start_at == start and s.created_at == NOW
    assert list_charges(db) == [] and sandbox.ledger() == []


def test_start_defaults_to_now_and_a_cycle_at_now_counts(db, customer):
    s = create_subscription(
        db, customer_key=customer.customer_key, amount=500, order_name="x", cron="0 9 1 * *",
        now=NOW,
    )  # fmt: skip
    assert s.next_charge_at == NOW  # first cycle *at or after* now


BAD_CREATE = [
    ({"amount": 0}, "amount"),
    ({"amount": -1}, "amount"),
    ({"amount": 99}, "amount"),
    ({"amount": 10**12}, "amount"),
    ({"amount": 1.5}, "amount"),
    ({"amount": 100.0}, "amount"),
    ({"amount": "1000"}, "amount"),
    ({"amount": True}, "amount"),
    ({"tax_free_amount": 10_000}, "tax_free_amount"),
    ({"tax_free_amount": -1}, "tax_free_amount"),
    ({"order_name": ""}, "order_name"),
    ({"order_name": "x" * 101}, "order_name"),
    ({"order_name": "a\tb"}, "order_name"),
    ({"cron": "not cron"}, "cron"),
    ({"cron": "0 9 31 2 *"}, "cron"),
    ({"cron": "* * * *"}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../etc/passwd"}, "timezone"),
    ({"start": datetime(2025, 6, 1)}, "start"),
    ({"start": NOW - timedelta(days=1)}, "start"),
    ({"customer_key": "cus_nobody"}, "customer_key"),
    ({"customer_key": "a b"}, "customer_key"),
]


@pytest.mark.parametrize(("kwargs", "field"), BAD_CREATE)
def test_bad_create_writes_nothing(db, customer, kwargs, field):
    args = dict(customer_key=customer.customer_key, amount=9900, order_name="x",
                cron="0 9 1 * *", now=NOW)  # fmt: skip
    args.update(kwargs)
    before = row_counts(db)
    with pytest.raises(ServiceError) as exc:
        create_subscription(db, **args)
    assert exc.value.field == field
    assert "\n" not in str(exc.value)
    assert row_counts(db) == before


def test_create_requires_an_active_card(db):
    c = create_customer(db, email=None, name=None, now=NOW)
    with pytest.raises(ConflictError, match="no active card"):
        create_subscription(
            db, customer_key=c.customer_key, amount=9900, order_name="x", cron="0 9 1 * *",
            now=NOW,
        )  # fmt: skip


def test_amount_change_applies_to_new_charges_only(db, sub):
    old = add_charge(db, sub, cycle_at=KST_9AM_JUNE_1)
    later = NOW + timedelta(days=2)
    update_subscription(db, sub.id, amount=12_900, order_name="Premium+", now=later)
    db.expire_all()
    assert old.amount == 9900 and old.order_name == "Premium monthly"
    s = get_subscription(db, sub.id)
    assert (s.amount, s.order_name, s.updated_at) == (12_900, "Premium+", later)
    assert s.next_charge_at == KST_9AM_JUNE_1  # unchanged: no cron change


def test_cron_change_recomputes_next_charge_at(db, sub):
    now = datetime(2025, 5, 10, 3, 0, tzinfo=UTC)  # 12:00 KST on the 10th
    s = update_subscription(db, sub.id, cron="0 9 15 * *", now=now)
    assert s.next_charge_at == datetime(2025, 5, 15, 0, 0, tzinfo=UTC)
    s = update_subscription(db, sub.id, timezone="UTC", now=now)
    assert s.next_charge_at == datetime(2025, 5, 15, 9, 0, tzinfo=UTC)


def test_cron_change_skips_a_cycle_already_charged(db, sub):
    at = datetime(2025, 5, 15, 0, 0, tzinfo=UTC)
    add_charge(db, sub, cycle_at=at)
    s = update_subscription(db, sub.id, cron="0 9 15 * *", now=at)
    assert s.next_charge_at == datetime(2025, 6, 15, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"amount": 0}, "amount"), ({"cron": "bad"}, "cron"), ({"timezone": "Nope/Nope"},
     "timezone"), ({"order_name": ""}, "order_name"), ({}, "update")],
)  # fmt: skip
def test_bad_update_changes_nothing(db, sub, kwargs, field):
    before = (sub.amount, sub.cron, sub.timezone, sub.order_name, sub.next_charge_at)
    with pytest.raises(ServiceError) as exc:
        update_subscription(db, sub.id, now=NOW, **kwargs)
    assert exc.value.field == field
    db.expire_all()
    s = get_subscription(db, sub.id)
    assert (s.amount, s.cron, s.timezone, s.order_name, s.next_charge_at) == before


def test_pause_resume_skips_missed_cycles(db, sub):
    s = pause_subscription(db, sub.id, now=NOW)
    assert s.status == SubscriptionStatus.PAUSED and s.next_charge_at is None
    with pytest.raises(ConflictError):
        pause_subscription(db, sub.id, now=NOW)
    back = datetime(2025, 8, 20, tzinfo=UTC)
    s = resume_subscription(db, sub.id, now=back)
    assert s.status == SubscriptionStatus.ACTIVE
    assert s.next_charge_at == datetime(2025, 9, 1, 0, 0, tzinfo=UTC)
    with pytest.raises(ConflictError):
        resume_subscription(db, sub.id, now=back)


def test_resume_with_open_charge_is_past_due(db, sub):
    add_charge(db, sub, cycle_at=KST_9AM_JUNE_1, status=ChargeStatus.RETRY_SCHEDULED,
               attempt_count=1, next_attempt_at=KST_9AM_JUNE_1 + timedelta(days=1))  # fmt: skip
    pause_subscription(db, sub.id, now=NOW)
    s = resume_subscription(db, sub.id, now=NOW)
    assert s.status == SubscriptionStatus.PAST_DUE


def test_cancel_closes_unsent_charges_and_leaves_in_flight_ones(db, sub):
    never = add_charge(db, sub, cycle_at=KST_9AM_JUNE_1)
    tried = add_charge(db, sub, cycle_at=datetime(2025, 5, 1, 0, 0, 1, tzinfo=UTC),
                       status=ChargeStatus.RETRY_SCHEDULED, attempt_count=2,
                       next_attempt_at=KST_9AM_JUNE_1)  # fmt: skip
    busy = add_charge(db, sub, cycle_at=datetime(2025, 7, 1, tzinfo=UTC),
                      status=ChargeStatus.PROCESSING, attempt_count=1)  # fmt: skip
    at = NOW + timedelta(days=3)
    s = cancel_subscription(db, sub.id, now=at)
    assert (s.status, s.canceled_at, s.next_charge_at) == (SubscriptionStatus.CANCELED, at, None)
    db.expire_all()
    assert never.status == ChargeStatus.SKIPPED and never.next_attempt_at is None
    assert tried.status == ChargeStatus.FAILED and tried.failure_code == "SUBSCRIPTION_CANCELED"
    assert busy.status == ChargeStatus.PROCESSING  # left to the worker
    for call in (pause_subscription, resume_subscription, cancel_subscription):
        with pytest.raises(ConflictError):
            call(db, sub.id, now=at)
    with pytest.raises(ConflictError):
        update_subscription(db, sub.id, amount=1000, now=at)
    with pytest.raises(ConflictError):
        retry_charge(db, tried.id, now=at)


def test_unknown_ids_are_not_found(db):
    with pytest.raises(NotFoundError):
        get_subscription(db, 999_999)
    with pytest.raises(NotFoundError):
        pause_subscription(db, 999_999, now=NOW)
    with pytest.raises(NotFoundError):
        retry_charge(db, 999_999, now=NOW)
    with pytest.raises(NotFoundError):
        list_charges(db, subscription_id=999_999)


def test_list_filters(db, sub, customer):
    assert [s.id for s in list_subscriptions(db, status="ACTIVE")] == [sub.id]
    assert list_subscriptions(db, status="PAUSED") == []
    assert [s.id for s in list_subscriptions(db, customer_key=customer.customer_key)] == [sub.id]
    with pytest.raises(ServiceError):
        list_subscriptions(db, status="nope")
    c = add_charge(db, sub, cycle_at=KST_9AM_JUNE_1, status=ChargeStatus.FAILED)
    assert list_charges(db, subscription_id=sub.id, status="FAILED") == [c]
    assert list_charges(db, status="DONE") == []
    with pytest.raises(ServiceError):
        list_charges(db, status="bogus")


@pytest.mark.parametrize(
    ("status", "waiting", "allowed"),
    [
        (ChargeStatus.RETRY_SCHEDULED, True, True),
        (ChargeStatus.RETRY_SCHEDULED, False, True),
        (ChargeStatus.FAILED, False, True),
        (ChargeStatus.DONE, False, False),
        (ChargeStatus.SKIPPED, False, False),
        (ChargeStatus.PENDING, False, False),
        (ChargeStatus.PROCESSING, False, False),
        (ChargeStatus.UNKNOWN, False, False),
    ],
)
def test_retry_charge(db, sub, status, waiting, allowed):
    c = add_charge(db, sub, cycle_at=KST_9AM_JUNE_1, status=status, attempt_count=1,
                   waiting_for_card=waiting, failure_code="REJECT_CARD_PAYMENT",
                   next_attempt_at=KST_9AM_JUNE_1 + timedelta(days=3))  # fmt: skip
    at = KST_9AM_JUNE_1 + timedelta(hours=5)
    if not allowed:
        with pytest.raises(ConflictError, match=status):
            retry_charge(db, c.id, now=at)
        db.expire_all()
        assert c.status == status
        return
    r = retry_charge(db, c.id, now=at)
    assert (r.status, r.next_attempt_at, r.waiting_for_card) == (
        ChargeStatus.RETRY_SCHEDULED,
        at,
        False,
    )
    assert r.order_id == f"bb-{sub.id}-20250601000000"


# Malformed values for any field: a ServiceError, never a partial write. SQLite only (the rule
# is in Python, before any SQL) to keep it fast.
_bad_amounts = st.one_of(
    st.integers(max_value=99), st.integers(min_value=100_000_001), st.floats(),
    st.text(max_size=5), st.booleans(), st.none(),
)  # fmt: skip
_bad_crons = st.one_of(
    st.text(alphabet="*/-, 0123456789abc", max_size=14).filter(lambda s: len(s.split()) != 5),
    st.sampled_from(["61 * * * *", "* 25 * * *", "0 0 31 2 *", "0 0 * 13 *", "@nope"]),
)
_bad_zones = st.one_of(st.text(max_size=12).filter(lambda s: "/" not in s or s.startswith("/")),
                       st.sampled_from(["Asia/Nowhere", "UTC+9", "+09:00", ""]))  # fmt: skip


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(field_value=st.one_of(
    st.tuples(st.just("amount"), _bad_amounts),
    st.tuples(st.just("cron"), _bad_crons),
    st.tuples(st.just("timezone"), _bad_zones),
))  # fmt: skip
def test_property_malformed_input_never_writes(db, customer, field_value):
    field, value = field_value
    if field == "timezone" and isinstance(value, str):
        try:
            validate_timezone(value)
        except ValueError:
            pass
        else:
            return  # a real zone name ("UTC", "Japan") is not malformed
    before = row_counts(db)
    args = dict(customer_key=customer.customer_key, amount=9900, order_name="x",
                cron="0 9 1 * *", now=NOW)  # fmt: skip
    args[field] = value
    with pytest.raises(ServiceError):
        create_subscription(db, **args)
    assert row_counts(db) == before
