"""Card registration: issue a billing key at Toss, store it encrypted, replace older cards,
and reopen what was waiting for a card.

The card number, expiry, identity number and password pass through to Toss and are never
stored, logged or echoed in an error (only Toss's masked number is kept).

Idempotency: issuance is sent *without* an Idempotency-Key. It moves no money, so a repeat
only issues a second key (the older one is then REPLACED); while a derived key would make
Toss replay the first answer for 15 days, so a customer who fixed a mistyped password
would keep getting the old INVALID_CARD_PASSWORD back.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billbeat.service._schedule import next_uncharged_cycle, status_after_resume
from billbeat.service._tx import unit_of_work
from billbeat.service.customers import get_customer
from billbeat.service.errors import ServiceError
from billbeat.service.validate import check_aware, check_digits
from models import BillingKey, BillingKeyStatus, Charge, ChargeStatus, Subscription
from models.crypto import BillingKeyCipher
from models.status import SubscriptionStatus
from toss import Billing, TossClient

__all__ = ["register_card", "reopen_for_new_card"]

log = logging.getLogger(__name__)


def _check_card_input(
    card_number: str,
    expiry_year: str,
    expiry_month: str,
    identity_number: str,
    card_password: str | None,
) -> None:
    check_digits("card_number", card_number, lengths=tuple(range(14, 21)), what="14-20 digits")
    check_digits("expiry_year", expiry_year, lengths=(2,), what="two digits YY")
    check_digits("expiry_month", expiry_month, lengths=(2,), what="two digits MM")
    if not 1 <= int(expiry_month) <= 12:
        raise ServiceError("expiry_month", "must be 01-12")
    check_digits(
        "identity_number", identity_number, lengths=(6, 10),
        what="6 digits YYMMDD (birth date) or 10 digits (business registration number)",
    )  # fmt: skip
    if card_password is not None:
        check_digits("card_password", card_password, lengths=(2,), what="the first two digits")


def register_card(
    session: Session,
    *,
    customer_key: str,
    card_number: str,
    expiry_year: str,
    expiry_month: str,
    identity_number: str,
    card_password: str | None = None,
    toss: TossClient,
    cipher: BillingKeyCipher,
    now: datetime,
) -> BillingKey:
    """Issue a billing key for the card and make it the customer's ACTIVE card.

    Input is checked locally first (bad input: ServiceError, no call, nothing written). A Toss
    refusal raises its ``TossError`` (e.g. ``INVALID_CARD_NUMBER``) and writes nothing. On
    success, in one transaction: the key is stored encrypted, older ACTIVE keys become
    REPLACED, and ``reopen_for_new_card`` runs. Returns the new BillingKey row.
    """
    check_aware("now", now)
    _check_card_input(card_number, expiry_year, expiry_month, identity_number, card_password)
    # Read, then end the transaction: no database lock is held during the HTTP call.
    with unit_of_work(session):
        get_customer(session, customer_key)
    billing = toss.issue_billing_key_with_card(
        customer_key=customer_key, card_number=card_number, expiration_year=expiry_year,
        expiration_month=expiry_month, identity_number=identity_number,
        card_password=card_password,
    )  # fmt: skip
    with unit_of_work(session):
        customer = get_customer(session, customer_key, for_update=True)
        session.execute(
            update(BillingKey)
            .where(BillingKey.customer_id == customer.id,
                   BillingKey.status == BillingKeyStatus.ACTIVE)
            .values(status=BillingKeyStatus.REPLACED, replaced_at=now)
        )  # fmt: skip
        key = BillingKey(
            customer_id=customer.id,
            billing_key_encrypted=cipher.encrypt(billing.billing_key),
            card_number_masked=_masked_number(billing),
            card_company=_card_company(billing),
            card_type=(billing.card.card_type if billing.card else None),
            status=BillingKeyStatus.ACTIVE,
            created_at=now,
        )
        session.add(key)
        session.flush()
        reopened = reopen_for_new_card(session, customer_id=customer.id, now=now)
    log.info(
        "card registered customer_id=%s billing_key_id=%s card=%s reopened_charges=%s",
        customer.id, key.id, key.card_number_masked, reopened,
    )  # fmt: skip
    return key


def _masked_number(billing: Billing) -> str | None:
    number = billing.card.number if billing.card and billing.card.number else billing.card_number
    return number[:32] if number else None


def _card_company(billing: Billing) -> str | None:
    # card.issuerCode is the current field; cardCompany (a name) was removed in 2024-06-01.
    code = billing.card.issuer_code if billing.card else None
    return code or billing.card_company or None


def reopen_for_new_card(session: Session, *, customer_id: int, now: datetime) -> int:
    """After a new card: retry what waits, now. Returns the number of charges reopened.

    * RETRY_SCHEDULED charges of the customer's non-canceled subscriptions (hard-declined
      ones waiting for a card, and soft-declined ones waiting for the dunning date) get
      ``next_attempt_at = now`` and ``waiting_for_card = False``; the scheduler publishes
      them within one tick, under the same orderId. FAILED charges stay final (an operator
      may ``billbeat charge retry`` one); UNKNOWN ones are still being reconciled.
    * UNPAID subscriptions resume: PAST_DUE if a charge is still open, else ACTIVE, with
      ``next_charge_at`` at the first cycle at or after ``now`` (cycles missed while UNPAID
      are not charged). PAUSED ones stay paused.
    Runs inside the caller's transaction.
    """
    sub_ids = select(Subscription.id).where(
        Subscription.customer_id == customer_id,
        Subscription.status != SubscriptionStatus.CANCELED,
    )
    result = session.execute(
        update(Charge)
        .where(Charge.subscription_id.in_(sub_ids),
               Charge.status == ChargeStatus.RETRY_SCHEDULED)
        .values(next_attempt_at=now, waiting_for_card=False, updated_at=now)
    )  # fmt: skip
    unpaid = session.scalars(
        select(Subscription)
        .where(Subscription.customer_id == customer_id,
               Subscription.status == SubscriptionStatus.UNPAID)
        .with_for_update()
    ).all()  # fmt: skip
    for sub in unpaid:
        sub.status = status_after_resume(session, sub)
        sub.next_charge_at = next_uncharged_cycle(session, sub, now)
        sub.updated_at = now
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
