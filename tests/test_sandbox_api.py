"""The sandbox's /v1 answers checked against the facts file (status + code), over raw HTTP."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle

AUTH = {"Authorization": "Basic " + base64.b64encode(f"{TEST_SECRET_KEY}:".encode()).decode()}
CARD_BODY = {
    "customerKey": "cust-1", "cardNumber": "4330123412341234", "cardExpirationYear": "39",
    "cardExpirationMonth": "07", "customerIdentityNumber": "900101",
}  # fmt: skip


def post(url: str, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(url + path, json=body, headers={**AUTH, **headers}, timeout=5)


def key(sandbox: SandboxHandle, customer: str = "cust-1") -> str:
    resp = post(
        sandbox.url, "/v1/billing/authorizations/card", {**CARD_BODY, "customerKey": customer}
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["billingKey"])


def charge_body(**over: Any) -> dict[str, Any]:
    return {"customerKey": "cust-1", "amount": 15000, "orderId": "order-0001",
            "orderName": "Premium monthly", **over}  # fmt: skip


def expect(resp: requests.Response, status: int, code: str) -> None:
    assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "UNAUTHORIZED_KEY"),
        ({"Authorization": "Basic " + base64.b64encode(b"test_sk_x").decode()}, 403,
         "INCORRECT_BASIC_AUTH_FORMAT"),
        ({"Authorization": "Basic " + base64.b64encode(b"live_sk_x:").decode()}, 401,
         "UNAUTHORIZED_KEY"),
        ({"Authorization": "Bearer test_sk_x"}, 401, "UNAUTHORIZED_KEY"),
    ],
)  # fmt: skip
def test_auth(sandbox: SandboxHandle, headers: dict[str, str], status: int, code: str) -> None:
    expect(requests.get(sandbox.url + "/v1/payments/x", headers=headers, timeout=5), status, code)


@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({"customerKey": "a"}, 400, "INVALID_CUSTOMER_KEY"),
        ({"customerKey": "has space"}, 400, "INVALID_CUSTOMER_KEY"),
        ({"cardNumber": "0330123412341234"}, 400, "INVALID_CARD_NUMBER"),
        ({"cardNumber": "43301234-1234"}, 400, "INVALID_CARD_NUMBER"),
        ({"cardNumber": "4" * 21}, 400, "INVALID_CARD_NUMBER"),
        ({"cardNumber": "4000000000009995"}, 400, "INVALID_CARD_NUMBER"),
        ({"cardExpirationMonth": "13"}, 400, "INVALID_CARD_EXPIRATION"),
        ({"cardExpirationYear": "20"}, 400, "INVALID_CARD_EXPIRATION"),
        ({"customerIdentityNumber": "12345"}, 400, "INVALID_BIRTH_DAY_FORMAT"),
        ({"customerEmail": "not-an-email"}, 400, "INVALID_EMAIL"),
        ({"cardPassword": "123"}, 400, "INVALID_CARD_PASSWORD"),
        ({"cardExpirationYear": None}, 400, "INVALID_REQUEST"),
    ],
)
def test_card_issuance_validation(
    sandbox: SandboxHandle, override: dict[str, Any], status: int, code: str
) -> None:
    expect(post(sandbox.url, "/v1/billing/authorizations/card", {**CARD_BODY, **override}),
           status, code)  # fmt: skip


def test_billing_object_shape(sandbox: SandboxHandle) -> None:
    resp = post(
        sandbox.url,
        "/v1/billing/authorizations/card",
        {**CARD_BODY, "customerIdentityNumber": "1234567890"},
    )
    body = resp.json()
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["X-TossPayments-Trace-Id"]
    assert len(body["billingKey"]) == 44 and body["billingKey"].endswith("=")
    assert body["card"] == {"issuerCode": "61", "acquirerCode": "31", "number": "43301234****123*",
                            "cardType": "신용", "ownerType": "개인"}  # fmt: skip
    assert body["authenticatedAt"].endswith("+09:00") and body["method"] == "카드"
    assert body["customerKey"] == "cust-1"


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"amount": 99}, "BELOW_MINIMUM_AMOUNT"),
        ({"amount": 0}, "BELOW_ZERO_AMOUNT"),
        ({"amount": "15000"}, "INVALID_REQUEST"),
        ({"amount": 150.0}, "INVALID_REQUEST"),
        ({"orderId": "short"}, "INVALID_ORDER_ID"),
        ({"orderId": "order.0001"}, "INVALID_ORDER_ID"),
        ({"orderId": "o" * 65}, "INVALID_ORDER_ID"),
        ({"orderName": "x" * 101}, "INVALID_ORDER_NAME"),
        ({"customerKey": "cust-2"}, "NOT_MATCHES_CUSTOMER_KEY"),
        ({"cardInstallmentPlan": 1}, "INVALID_CARD_INSTALLMENT_PLAN"),
    ],
)
def test_charge_validation(sandbox: SandboxHandle, override: dict[str, Any], code: str) -> None:
    billing_key = key(sandbox)
    resp = post(sandbox.url, f"/v1/billing/{billing_key}", charge_body(**override))
    expect(resp, 400, code)
    assert sandbox.ledger() == []


def test_charge_unknown_and_deleted_key(sandbox: SandboxHandle) -> None:
    expect(post(sandbox.url, "/v1/billing/nope%3D", charge_body()), 404, "NOT_FOUND_BILLING")
    billing_key = key(sandbox)
    resp = requests.delete(f"{sandbox.url}/v1/billing/{billing_key}", headers=AUTH, timeout=5)
    assert (resp.status_code, resp.content) == (200, b"")
    expect(post(sandbox.url, f"/v1/billing/{billing_key}", charge_body()), 404, "NOT_FOUND_BILLING")


def test_payment_object_and_duplicate_order(sandbox: SandboxHandle) -> None:
    billing_key = key(sandbox)
    resp = post(sandbox.url, f"/v1/billing/{billing_key}", charge_body())
    payment = resp.json()
    assert (payment["status"], payment["type"], payment["method"]) == ("DONE", "BILLING", "카드")
    assert (payment["vat"], payment["suppliedAmount"]) == (1364, 13636)  # facts §5.1 example
    assert payment["approvedAt"].endswith("+09:00") and len(payment["lastTransactionKey"]) == 32
    assert payment["isPartialCancelable"] is True and payment["currency"] == "KRW"
    again = post(sandbox.url, f"/v1/billing/{billing_key}", charge_body(amount=100))
    expect(again, 400, "DUPLICATED_ORDER_ID")
    assert len(sandbox.ledger()) == 1


def test_english_and_korean_messages(sandbox: SandboxHandle) -> None:
    ko = requests.get(sandbox.url + "/v1/payments/orders/nothing", headers=AUTH, timeout=5)
    en = requests.get(sandbox.url + "/v1/payments/orders/nothing",
                      headers={**AUTH, "Accept-Language": "en-US"}, timeout=5)  # fmt: skip
    assert ko.json() == {"code": "NOT_FOUND_PAYMENT", "message": "존재하지 않는 결제 정보 입니다."}
    assert en.json() == {"code": "NOT_FOUND_PAYMENT", "message": "Payment not found."}
    assert ko.headers["X-TossPayments-Trace-Id"] != en.headers["X-TossPayments-Trace-Id"]


def test_test_code_header(sandbox: SandboxHandle) -> None:
    path = "/v1/payments/unknown-key/cancel"
    resp = post(sandbox.url, path, {}, **{"TossPayments-Test-Code": "REJECT_CARD_PAYMENT"})
    expect(resp, 403, "REJECT_CARD_PAYMENT")  # answered before validation / lookup
    expect(
        post(sandbox.url, path, {}, **{"TossPayments-Test-Code": "NOPE"}), 400, "INVALID_TEST_CODE"
    )


def test_idempotency_key_rules(sandbox: SandboxHandle) -> None:
    billing_key = key(sandbox)
    long_key = {"Idempotency-Key": "k" * 301}
    expect(post(sandbox.url, f"/v1/billing/{billing_key}", charge_body(), **long_key), 400,
           "INVALID_IDEMPOTENCY_KEY")  # fmt: skip
    # An error is replayed too: the same key keeps answering the first (bad) request's error.
    first = post(
        sandbox.url,
        f"/v1/billing/{billing_key}",
        charge_body(amount=50),
        **{"Idempotency-Key": "k1"},
    )
    second = post(
        sandbox.url, f"/v1/billing/{billing_key}", charge_body(), **{"Idempotency-Key": "k1"}
    )
    expect(first, 400, "BELOW_MINIMUM_AMOUNT")
    assert (second.status_code, second.text) == (first.status_code, first.text)
    assert sandbox.ledger() == []


def test_cancel_math(sandbox: SandboxHandle) -> None:
    billing_key = key(sandbox)
    payment_key = post(sandbox.url, f"/v1/billing/{billing_key}", charge_body()).json()[
        "paymentKey"
    ]
    cancel = f"/v1/payments/{payment_key}/cancel"
    expect(post(sandbox.url, cancel, {"cancelReason": "x", "cancelAmount": 15001}), 403,
           "NOT_CANCELABLE_AMOUNT")  # fmt: skip
    stale = {"cancelReason": "x", "cancelAmount": 1000, "refundableAmount": 1}
    expect(post(sandbox.url, cancel, stale), 400, "NOT_MATCHES_REFUNDABLE_AMOUNT")
    part = post(sandbox.url, cancel, {"cancelReason": "partial", "cancelAmount": 5500}).json()
    assert (part["status"], part["balanceAmount"], part["totalAmount"]) == (
        "PARTIAL_CANCELED",
        9500,
        15000,
    )
    assert (part["vat"], part["suppliedAmount"]) == (1364 - 500, 13636 - 5000)
    entry = part["cancels"][0]
    assert (entry["cancelAmount"], entry["refundableAmount"], entry["cancelStatus"]) == (
        5500,
        9500,
        "DONE",
    )
    assert (
        entry["transactionKey"] == part["lastTransactionKey"] and entry["cancelRequestId"] is None
    )
    full = post(sandbox.url, cancel, {"cancelReason": "rest"}).json()
    assert (full["status"], full["balanceAmount"], full["vat"], full["suppliedAmount"]) == (
        "CANCELED",
        0,
        0,
        0,
    )
    expect(post(sandbox.url, cancel, {"cancelReason": "again"}), 400, "ALREADY_CANCELED_PAYMENT")
    expect(
        post(sandbox.url, "/v1/payments/nope/cancel", {"cancelReason": "x"}),
        404,
        "NOT_FOUND_PAYMENT",
    )


def test_no_partial_cancel_with_tax_exemption(sandbox: SandboxHandle) -> None:
    billing_key = key(sandbox)
    payment = post(
        sandbox.url, f"/v1/billing/{billing_key}", charge_body(taxExemptionAmount=500)
    ).json()
    assert payment["isPartialCancelable"] is False
    cancel = f"/v1/payments/{payment['paymentKey']}/cancel"
    expect(post(sandbox.url, cancel, {"cancelReason": "x", "cancelAmount": 100}), 403,
           "NOT_ALLOWED_PARTIAL_REFUND")  # fmt: skip
    assert post(sandbox.url, cancel, {"cancelReason": "all"}).json()["status"] == "CANCELED"
