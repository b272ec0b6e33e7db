"""Toss-shaped JSON objects (facts §4, §5.1) and the amount arithmetic behind them."""

from __future__ import annotations

import base64
import secrets
import string
from datetime import datetime
from typing import Any

from toss._models import KST

__all__ = [
    "new_billing_key", "new_payment_key", "new_transaction_key", "new_auth_key",
    "kst", "vat_of", "card_block", "billing_object", "payment_object", "apply_cancel",
]  # fmt: skip

#: Merchant id the sandbox answers with (the docs' examples use "tosspayments").
M_ID = "tosspayments"
#: Payment object shape version (facts §0).
API_VERSION = "2022-11-16"
_ALNUM = string.ascii_letters + string.digits
#: BIN -> (issuerCode, acquirerCode, cardType); anything else gets the docs' 61/31 pair.
_ISSUERS = {"433012": ("61", "31", "신용"), "490625": ("31", "31", "체크")}


def new_billing_key() -> str:
    # 32 random bytes -> 44 url-safe base64 chars ending in '=', like the docs' example key.
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def new_payment_key() -> str:
    # Test-mode keys have been seen with a "tviva" prefix (facts §5.1); 48 chars in all.
    return "tviva" + "".join(secrets.choice(_ALNUM) for _ in range(43))


def new_transaction_key() -> str:
    return secrets.token_hex(16).upper()


def new_auth_key() -> str:
    return "bln_" + "".join(secrets.choice(_ALNUM) for _ in range(32))


def kst(when: datetime) -> str:
    """``2022-06-08T15:40:09+09:00``: Toss's object timestamp format."""
    return when.astimezone(KST).isoformat(timespec="seconds")


def vat_of(taxable_krw: int) -> int:
    """VAT = taxable / 11, rounded half-up at the first decimal (facts §5.1: 15,000 -> 1,364)."""
    return (2 * taxable_krw + 11) // 22


def mask_card(number: str) -> str:
    # "4330123412341234" -> "43301234****123*" (docs example).
    return number[:8] + "****" + number[12:-1] + "*"


def card_block(number: str) -> dict[str, Any]:
    issuer, acquirer, card_type = _ISSUERS.get(number[:6], ("61", "31", "신용"))
    return {
        "issuerCode": issuer,
        "acquirerCode": acquirer,
        "number": mask_card(number),
        "cardType": card_type,
        "ownerType": "개인",
    }


def billing_object(key: dict[str, Any]) -> dict[str, Any]:
    """The Billing object for a stored key record (see store.py for the record's fields)."""
    card = key["card"]
    return {
        "mId": M_ID,
        "customerKey": key["customerKey"],
        "authenticatedAt": key["authenticatedAt"],
        "method": "카드",
        "billingKey": key["billingKey"],
        "card": card,
        "cardCompany": "현대" if card["issuerCode"] == "61" else "BC",
        "cardNumber": card["number"],
    }


def payment_object(
    *, key: dict[str, Any], body: dict[str, Any], requested_at: str, approved_at: str
) -> dict[str, Any]:
    """A DONE billing Payment for a validated charge ``body`` on billing-key record ``key``."""
    amount: int = body["amount"]
    tax_free: int = body.get("taxFreeAmount", 0)
    tax_exemption: int = body.get("taxExemptionAmount", 0)
    vat = vat_of(amount - tax_free)
    payment_key = new_payment_key()
    transaction_key = new_transaction_key()
    months = body.get("cardInstallmentPlan", 0) if amount >= 50_000 else 0
    return {
        "mId": M_ID, "version": API_VERSION, "paymentKey": payment_key,
        "status": "DONE", "type": "BILLING", "method": "카드",
        "lastTransactionKey": transaction_key,
        "orderId": body["orderId"], "orderName": body["orderName"],
        "requestedAt": requested_at, "approvedAt": approved_at,
        "useEscrow": False, "cultureExpense": False,
        "card": {
            **{k: key["card"][k] for k in ("issuerCode", "acquirerCode", "number", "cardType",
                                          "ownerType")},
            "installmentPlanMonths": months, "isInterestFree": False, "interestPayer": None,
            "approveNo": "00000000", "useCardPoint": False, "acquireStatus": "READY",
            "amount": amount,
        },
        "virtualAccount": None, "transfer": None, "mobilePhone": None, "giftCertificate": None,
        "cashReceipt": None, "cashReceipts": None, "discount": None, "cancels": None,
        "secret": None, "easyPay": None, "easyPayAmount": None, "easyPayDiscountAmount": None,
        "country": "KR", "failure": None,
        # A card payment with a tax-exemption part cannot be partially canceled (facts §5).
        "isPartialCancelable": tax_exemption == 0,
        "receipt": {"url": "https://dashboard.tosspayments.com/sales-slip"
                           f"?transactionId={transaction_key}&ref=PX"},
        "checkout": {"url": f"https://api.tosspayments.com/v1/payments/{payment_key}/checkout"},
        "currency": "KRW", "totalAmount": amount, "balanceAmount": amount,
        "suppliedAmount": amount - tax_free - vat, "vat": vat,
        "taxFreeAmount": tax_free, "taxExemptionAmount": tax_exemption,
        "metadata": None,
    }  # fmt: skip


def apply_cancel(
    payment: dict[str, Any], *, cancel_amount: int, tax_free: int, reason: str, canceled_at: str
) -> None:
    """Append a cancel to ``payment`` and reduce balance, supplied amount and VAT in place.

    A full cancel zeroes the remaining parts exactly, so rounding of earlier partial cancels
    never leaves a 1-won residue.
    """
    balance = payment["balanceAmount"] - cancel_amount
    if balance == 0:
        cancel_vat, cancel_tax_free = payment["vat"], payment["taxFreeAmount"]
    else:
        cancel_tax_free = tax_free
        cancel_vat = vat_of(cancel_amount - tax_free)
    transaction_key = new_transaction_key()
    payment["vat"] -= cancel_vat
    payment["taxFreeAmount"] -= cancel_tax_free
    payment["suppliedAmount"] -= cancel_amount - cancel_tax_free - cancel_vat
    payment["balanceAmount"] = balance
    payment["status"] = "CANCELED" if balance == 0 else "PARTIAL_CANCELED"
    payment["lastTransactionKey"] = transaction_key
    if balance == 0 and payment.get("card"):
        payment["card"]["acquireStatus"] = "CANCELED"
    payment["cancels"] = (payment.get("cancels") or []) + [
        {
            "cancelAmount": cancel_amount, "cancelReason": reason,
            "taxFreeAmount": cancel_tax_free,
            "taxExemptionAmount": payment["taxExemptionAmount"] if balance == 0 else 0,
            "refundableAmount": balance, "cardDiscountAmount": 0, "transferDiscountAmount": 0,
            "easyPayDiscountAmount": 0, "canceledAt": canceled_at,
            "transactionKey": transaction_key, "receiptKey": new_transaction_key(),
            "cancelStatus": "DONE", "cancelRequestId": None,
        }
    ]  # fmt: skip
