"""Seed a small demo on an empty database (``make run``); does nothing on a non-empty one.

Customers with sandbox cards on a fast cycle: three good cards, one that soft-declines (shows
dunning: RETRY_SCHEDULED, PAST_DUE), one that hard-declines (waits for a new card), and one that
declines twice and then succeeds.
"""

from __future__ import annotations

import sys

from sqlalchemy import func, select

from billbeat.service.cards import register_card
from billbeat.service.customers import create_customer
from billbeat.service.subscriptions import create_subscription
from billbeat.settings import get_settings
from models import Customer
from models.crypto import BillingKeyCipher
from models.db import make_engine, make_session_factory
from scheduler.clock import SystemClock
from toss import TossClient

__all__ = ["seed_demo", "DEMO_CRON"]

#: Every 20 seconds (croniter's sixth field is seconds), so cycles are visible at once.
DEMO_CRON = "* * * * * */20"

#: (name, email, sandbox card number, amount KRW, order name)
DEMO_CUSTOMERS = [
    ("김민수", "minsu@example.com", "4330123412341234", 9_900, "Premium monthly"),
    ("이서연", "seoyeon@example.com", "4906250000000000", 4_900, "Basic monthly"),
    ("박지훈", "jihoon@example.com", "4330123412341234", 14_900, "Team plan"),
    ("최유진", "yujin@example.com", "4000000000000002", 9_900, "Premium (card over limit)"),
    ("정하늘", "haneul@example.com", "4000000000000119", 4_900, "Basic (stopped card)"),
    ("강도윤", "doyun@example.com", "4000000000003002", 7_900, "Plus (declines twice)"),
]


def seed_demo() -> int:
    """Create the demo rows if there are no customers yet; returns how many were created."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    clock = SystemClock()
    cipher = BillingKeyCipher(settings.encryption_keys)
    created = 0
    with factory() as session, TossClient.from_settings(settings) as toss:
        if session.scalar(select(func.count()).select_from(Customer)):
            return 0
        for name, email, card, amount, order_name in DEMO_CUSTOMERS:
            customer = create_customer(session, email=email, name=name, now=clock.now())
            register_card(
                session,
                customer_key=customer.customer_key,
                card_number=card,
                expiry_year="30",
                expiry_month="12",
                identity_number="900101",
                toss=toss,
                cipher=cipher,
                now=clock.now(),
            )
            create_subscription(
                session,
                customer_key=customer.customer_key,
                amount=amount,
                order_name=order_name,
                cron=DEMO_CRON,
                timezone="Asia/Seoul",
                now=clock.now(),
            )
            created += 1
    engine.dispose()
    return created


if __name__ == "__main__":
    count = seed_demo()
    print(
        f"billbeat | demo: seeded {count} subscriptions on '{DEMO_CRON}'"
        if count
        else "billbeat | demo: database already has data; not seeding"
    )
    sys.exit(0)
