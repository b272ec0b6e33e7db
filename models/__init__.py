"""SQLAlchemy 2 models of customers, billing keys, subscriptions, charges and attempts."""

from models.base import Base
from models.billing_key import BillingKey
from models.charge import Charge, ChargeAttempt, order_id_for
from models.customer import Customer, new_customer_key
from models.status import (
    AttemptOutcome,
    BillingKeyStatus,
    CallKind,
    ChargeStatus,
    SubscriptionStatus,
)
from models.subscription import Subscription

__all__ = [
    "AttemptOutcome",
    "Base",
    "BillingKey",
    "BillingKeyStatus",
    "CallKind",
    "Charge",
    "ChargeAttempt",
    "ChargeStatus",
    "Customer",
    "Subscription",
    "SubscriptionStatus",
    "new_customer_key",
    "order_id_for",
]
