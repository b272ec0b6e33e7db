"""Handlers of the Toss-look-alike endpoints under /v1 (facts §2–§5A)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web

from toss._auth import mask
from toss.sandbox import checks, objects
from toss.sandbox.context import BASE_LATENCY_MS, DROP_RESPONSE, NOW, STORE
from toss.sandbox.errors import ApiError
from toss.sandbox.triggers import ISSUE_FAILURES, magic_behaviour, take_magic_decline

__all__ = ["routes", "json_response"]

logger = logging.getLogger(__name__)
routes = web.RouteTableDef()


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data, ensure_ascii=False), content_type="application/json"
    )


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError("INVALID_REQUEST") from None
    if not isinstance(body, dict):
        raise ApiError("INVALID_REQUEST")
    return body


def _new_key(request: web.Request, *, customer_key: str, card_number: str) -> web.Response:
    store = request.app[STORE]
    if card_number in ISSUE_FAILURES:
        raise ApiError(ISSUE_FAILURES[card_number])
    record: dict[str, Any] = {
        "billingKey": objects.new_billing_key(),
        "customerKey": customer_key,
        "authenticatedAt": objects.kst(request.app[NOW]()),
        "card": objects.card_block(card_number),
        # The raw card number is never stored; only the behaviour a magic number asks for.
        "magic": magic_behaviour(card_number),
    }
    store.keys[record["billingKey"]] = record
    store.save()
    logger.debug("sandbox issued billing_key=%s", mask(record["billingKey"]))
    return json_response(objects.billing_object(record))


@routes.post("/v1/billing/authorizations/card")
async def issue_with_card(request: web.Request) -> web.Response:
    body = await _body(request)
    checks.check_card_issue(body, now=request.app[NOW]())
    return _new_key(request, customer_key=body["customerKey"], card_number=body["cardNumber"])


@routes.post("/v1/billing/authorizations/issue")
async def issue_with_auth_key(request: web.Request) -> web.Response:
    body = await _body(request)
    checks.check_auth_issue(body)
    auth_keys = request.app[STORE].auth_keys
    pending = auth_keys.get(body["authKey"])
    if pending is None:
        raise ApiError("NOT_FOUND_BILLING")
    if pending["customerKey"] != body["customerKey"]:
        raise ApiError("NOT_MATCHES_CUSTOMER_KEY")
    del auth_keys[body["authKey"]]  # single use (facts §2)
    return _new_key(request, customer_key=body["customerKey"], card_number=pending["cardNumber"])


@routes.post("/v1/billing/{billingKey}")
async def charge(request: web.Request) -> web.Response:
    store, now = request.app[STORE], request.app[NOW]
    body = await _body(request)
    checks.check_charge(body)
    key = store.keys.get(request.match_info["billingKey"])
    if key is None:
        # UNCONFIRMED which code Toss gives an unknown/deleted key; NOT_FOUND_BILLING is the
        # documented "not found" code of the billing family (facts §5.5, §6.2).
        raise ApiError("NOT_FOUND_BILLING")
    customer_key: str = body["customerKey"]
    if key["customerKey"] != customer_key:
        raise ApiError("NOT_MATCHES_CUSTOMER_KEY")
    requested_at = objects.kst(now())
    latency_ms = request.app[BASE_LATENCY_MS] + store.faults.latency_ms(customer_key)
    if latency_ms:
        await asyncio.sleep(latency_ms / 1000)  # other requests keep being served meanwhile
    # Everything below runs without awaiting, so it is atomic on the event loop: two
    # concurrent charges of one orderId cannot both pass the duplicate check.
    if body["orderId"] in store.by_order:
        raise ApiError("DUPLICATED_ORDER_ID")
    if store.faults.take(customer_key, "fail500"):
        raise ApiError("FAILED_INTERNAL_SYSTEM_PROCESSING")
    decline = store.faults.take_decline(customer_key) or take_magic_decline(key)
    if decline:
        if key.get("magic"):
            store.save()  # the "first N declines" counter moved
        # UNCONFIRMED (facts §12.4): a refused charge leaves nothing queryable and does not
        # consume the orderId, so the next dunning attempt may reuse it.
        logger.debug("sandbox decline order_id=%s code=%s", body["orderId"], decline)
        raise ApiError(decline)
    payment = objects.payment_object(
        key=key, body=body, requested_at=requested_at, approved_at=objects.kst(now())
    )
    store.add_payment(payment)
    store.save()
    if store.faults.take(customer_key, "dropResponse"):
        request[DROP_RESPONSE] = True  # charged and recorded; the client never hears it
    return json_response(payment)


@routes.delete("/v1/billing/{billingKey}")
async def delete_billing_key(request: web.Request) -> web.Response:
    store = request.app[STORE]
    if store.keys.pop(request.match_info["billingKey"], None) is None:
        raise ApiError("NOT_FOUND_BILLING")  # UNCONFIRMED (facts §5.5)
    store.save()
    return web.Response(status=200, body=b"", content_type="application/json")


@routes.get("/v1/payments/orders/{orderId}")
async def get_by_order_id(request: web.Request) -> web.Response:
    payment = request.app[STORE].payment_by_order(request.match_info["orderId"])
    if payment is None:
        # Declined orders are not recorded, so they answer 404 too (the conservative reading
        # of facts §5.3; real Toss may answer ABORTED with `failure` — clients handle both).
        raise ApiError("NOT_FOUND_PAYMENT")
    return json_response(payment)


@routes.get("/v1/payments/{paymentKey}")
async def get_payment(request: web.Request) -> web.Response:
    payment = request.app[STORE].payments.get(request.match_info["paymentKey"])
    if payment is None:
        raise ApiError("NOT_FOUND_PAYMENT")
    return json_response(payment)


@routes.post("/v1/payments/{paymentKey}/cancel")
async def cancel(request: web.Request) -> web.Response:
    store = request.app[STORE]
    body = await _body(request)
    payment = store.payments.get(request.match_info["paymentKey"])
    if payment is None:
        raise ApiError("NOT_FOUND_PAYMENT")
    amount, tax_free = checks.check_cancel(body, payment)
    objects.apply_cancel(
        payment, cancel_amount=amount, tax_free=tax_free, reason=body["cancelReason"],
        canceled_at=objects.kst(request.app[NOW]()),
    )  # fmt: skip
    store.save()
    return json_response(payment)
