"""Service: customers and card registration through the real sandbox (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from billbeat.service import (
    ServiceError,
    create_customer,
    create_subscription,
    register_card,
)
from models import BillingKey, BillingKeyStatus, ChargeStatus, Subscription, SubscriptionStatus
from models.crypto import BillingKeyCipher, generate_key
from tests.helpers.billing_rows import OK_CARD, add_charge, customer_with_card, row_counts
from toss import TossAPIError, TossClient

NOW = datetime(2025, 5, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def cipher() -> BillingKeyCipher:
    return BillingKeyCipher([generate_key()])


def test_customer_key_is_random_and_valid(db):
    a = create_customer(db, email="a@example.com", name="A", now=NOW)
    b = create_customer(db, email="a@example.com", name=None, now=NOW)
    assert a.customer_key != b.customer_key
    assert a.customer_key.startswith("cus_") and "example" not in a.customer_key
    assert a.created_at == NOW


@pytest.mark.parametrize(
    ("email", "name", "field"),
    [
        ("not-an-email", None, "email"),
        ("a" * 95 + "@x.com", None, "email"),
        ("a b@x.com", None, "email"),
        (None, "x" * 101, "name"),
        (None, "bad\nname", "name"),
        (None, "", "name"),
    ],
)
def test_bad_customer_input_writes_nothing(db, email, name, field):
    before = row_counts(db)
    with pytest.raises(ServiceError) as exc:
        create_customer(db, email=email, name=name, now=NOW)
    assert exc.value.field == field
    assert row_counts(db) == before


def test_register_card_stores_encrypted_key_and_mask_only(db, toss_client, cipher, sandbox):
    customer = create_customer(db, email=None, name=None, now=NOW)
    key = register_card(
        db, customer_key=customer.customer_key, card_number=OK_CARD, expiry_year="30",
        expiry_month="12", identity_number="900101", card_password="12",
        toss=toss_client, cipher=cipher, now=NOW,
    )  # fmt: skip
    db.expire_all()
    stored = db.get(BillingKey, key.id)
    assert stored.status == BillingKeyStatus.ACTIVE
    assert stored.card_number_masked and "*" in stored.card_number_masked
    assert OK_CARD not in stored.billing_key_encrypted
    plain = cipher.decrypt(stored.billing_key_encrypted)
    assert plain and plain != stored.billing_key_encrypted
    # the stored key really charges at the sandbox
    payment = toss_client.charge(
        billing_key=plain, customer_key=customer.customer_key, amount=1000,
        order_id="bb-test-0001", order_name="probe",
    )  # fmt: skip
    assert payment.status == "DONE"
    # no column anywhere holds the full card number
    row = {c.name: getattr(stored, c.name) for c in BillingKey.__table__.columns}
    assert all(OK_CARD not in str(v) for v in row.values())


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"card_number": "4330abcd12341234"}, "card_number"),
        ({"card_number": "4330"}, "card_number"),
        ({"expiry_year": "2030"}, "expiry_year"),
        ({"expiry_month": "13"}, "expiry_month"),
        ({"expiry_month": "00"}, "expiry_month"),
        ({"expiry_month": "1"}, "expiry_month"),
        ({"identity_number": "12345"}, "identity_number"),
        ({"identity_number": "9001O1"}, "identity_number"),
        ({"card_password": "123"}, "card_password"),
        ({"customer_key": "bad key!"}, "customer_key"),
    ],
)
def test_bad_card_input_calls_nothing_and_writes_nothing(db, cipher, sandbox, kwargs, field):
    customer = create_customer(db, email=None, name=None, now=NOW)
    args = dict(customer_key=customer.customer_key, card_number=OK_CARD, expiry_year="30",
                expiry_month="12", identity_number="900101")  # fmt: skip
    args.update(kwargs)
    before = row_counts(db)
    # a client pointing nowhere: any call would raise a connection error, not ServiceError
    nowhere = TossClient(base_url="http://127.0.0.1:9", secret_key="test_sk_x")
    with pytest.raises(ServiceError) as exc:
        register_card(db, **args, toss=nowhere, cipher=cipher, now=NOW)
    assert exc.value.field == field
    assert OK_CARD not in str(exc.value) and "4330abcd" not in str(exc.value)
    assert row_counts(db) == before


def test_issuance_failure_writes_nothing(db, toss_client, cipher, sandbox):
    customer = customer_with_card(db, toss=toss_client, cipher=cipher, now=NOW)
    before = row_counts(db)
    with pytest.raises(TossAPIError) as exc:
        register_card(
            db, customer_key=customer.customer_key, card_number="4000000000009995",
            expiry_year="30", expiry_month="12", identity_number="900101",
            toss=toss_client, cipher=cipher, now=NOW,
        )  # fmt: skip
    assert exc.value.code == "INVALID_CARD_NUMBER"
    assert row_counts(db) == before
    statuses = db.scalars(select(BillingKey.status)).all()
    assert statuses == [BillingKeyStatus.ACTIVE]  # the old card is untouched


def test_unknown_customer_is_refused_before_calling_toss(db, cipher, sandbox, toss_client):
    with pytest.raises(ServiceError, match="no customer"):
        register_card(
            db, customer_key="cus_unknown", card_number=OK_CARD, expiry_year="30",
            expiry_month="12", identity_number="900101", toss=toss_client, cipher=cipher,
            now=NOW,
        )  # fmt: skip
    assert sandbox.ledger() == []


def test_new_card_replaces_old_and_reopens_waiting_charges(db, toss_client, cipher, sandbox):
    customer = customer_with_card(db, toss=toss_client, cipher=cipher, now=NOW)
    sub = create_subscription(
        db, customer_key=customer.customer_key, amount=9900, order_name="Premium",
        cron="0 9 1 * *", now=NOW,
    )  # fmt: skip
    later = datetime(2025, 6, 3, tzinfo=UTC)
    hard = add_charge(
        db, sub, cycle_at=datetime(2025, 6, 1, tzinfo=UTC),
        status=ChargeStatus.RETRY_SCHEDULED, attempt_count=1, waiting_for_card=True,
    )  # fmt: skip
    done = add_charge(db, sub, cycle_at=datetime(2025, 5, 1, tzinfo=UTC), status=ChargeStatus.DONE)
    sub.status = SubscriptionStatus.UNPAID
    sub.next_charge_at = None
    db.commit()

    new = register_card(
        db, customer_key=customer.customer_key, card_number="4000000000003001",
        expiry_year="31", expiry_month="01", identity_number="9001011234",
        toss=toss_client, cipher=cipher, now=later,
    )  # fmt: skip
    db.expire_all()
    keys = db.scalars(select(BillingKey).order_by(BillingKey.id)).all()
    assert [k.status for k in keys] == [BillingKeyStatus.REPLACED, BillingKeyStatus.ACTIVE]
    assert keys[0].replaced_at == later and keys[1].id == new.id
    assert hard.status == ChargeStatus.RETRY_SCHEDULED
    assert hard.waiting_for_card is False and hard.next_attempt_at == later
    assert hard.order_id == f"bb-{sub.id}-20250601000000"  # same orderId
    assert done.status == ChargeStatus.DONE and done.next_attempt_at is None
    sub = db.get(Subscription, sub.id)
    assert sub.status == SubscriptionStatus.PAST_DUE  # the reopened charge is still open
    assert sub.next_charge_at == datetime(2025, 7, 1, 0, 0, tzinfo=UTC)  # 09:00 KST


def test_new_card_resumes_unpaid_subscription_without_open_charge(db, toss_client, cipher, sandbox):
    customer = customer_with_card(db, toss=toss_client, cipher=cipher, now=NOW)
    sub = create_subscription(
        db, customer_key=customer.customer_key, amount=9900, order_name="Premium",
        cron="0 9 * * *", now=NOW,
    )  # fmt: skip
    add_charge(db, sub, cycle_at=datetime(2025, 5, 1, tzinfo=UTC), status=ChargeStatus.FAILED,
               attempt_count=4, failure_code="INVALID_STOPPED_CARD")  # fmt: skip
    sub.status = SubscriptionStatus.UNPAID
    sub.next_charge_at = None
    db.commit()
    later = datetime(2025, 5, 10, 1, 0, tzinfo=UTC)  # 10:00 KST: today's 09:00 has passed
    register_card(
        db, customer_key=customer.customer_key, card_number=OK_CARD, expiry_year="30",
        expiry_month="12", identity_number="900101", toss=toss_client, cipher=cipher, now=later,
    )  # fmt: skip
    db.expire_all()
    sub = db.get(Subscription, sub.id)
    assert sub.status == SubscriptionStatus.ACTIVE
    assert sub.next_charge_at == datetime(2025, 5, 11, 0, 0, tzinfo=UTC)
