"""The service layer: plain functions over a Session, used by the CLI (and any other front).

Each mutating function validates all input before writing and is one transaction (it commits
on success; on ``ServiceError`` nothing is written). Time comes in as ``now`` (aware UTC).
"""

from billbeat.service.cards import register_card, reopen_for_new_card
from billbeat.service.charges import get_charge, list_charges, retry_charge
from billbeat.service.customers import active_billing_key, create_customer, get_customer
from billbeat.service.errors import ConflictError, NotFoundError, ServiceError
from billbeat.service.keys import rotate_billing_keys
from billbeat.service.subscriptions import (
    cancel_subscription,
    create_subscription,
    get_subscription,
    list_subscriptions,
    pause_subscription,
    resume_subscription,
    update_subscription,
)

__all__ = [
    "ServiceError",
    "NotFoundError",
    "ConflictError",
    "create_customer",
    "get_customer",
    "active_billing_key",
    "register_card",
    "reopen_for_new_card",
    "create_subscription",
    "update_subscription",
    "pause_subscription",
    "resume_subscription",
    "cancel_subscription",
    "get_subscription",
    "list_subscriptions",
    "list_charges",
    "get_charge",
    "retry_charge",
    "rotate_billing_keys",
]
