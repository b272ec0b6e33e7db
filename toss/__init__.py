"""The Toss Payments billing boundary: client, typed results, errors and the sandbox.

Usage::

    from toss import TossClient, TossError, ErrorKind
    with TossClient(base_url="http://127.0.0.1:8787", secret_key="test_sk_...") as client:
        payment = client.charge(billing_key=..., customer_key=..., amount=4900,
                                order_id="sub-42-2025-01", order_name="Premium monthly",
                                idempotency_key="bb-sub-42-2025-01-a1")
"""

from toss._client import TossClient
from toss._codes import CATALOGUE, DAILY_LIMIT_CODES, CodeInfo
from toss._errors import (
    TossAPIError,
    TossConnectionError,
    TossError,
    TossValidationError,
    classify,
)
from toss._kinds import ErrorKind
from toss._models import Billing, Cancel, Card, Failure, Payment
from toss._validate import (
    validate_amount,
    validate_customer_key,
    validate_idempotency_key,
    validate_order_id,
    validate_order_name,
)

__all__ = [
    "TossClient",
    "TossError",
    "TossAPIError",
    "TossConnectionError",
    "TossValidationError",
    "ErrorKind",
    "classify",
    "Payment",
    "Billing",
    "Card",
    "Cancel",
    "Failure",
    "CATALOGUE",
    "CodeInfo",
    "DAILY_LIMIT_CODES",
    "validate_customer_key",
    "validate_order_id",
    "validate_order_name",
    "validate_amount",
    "validate_idempotency_key",
]
