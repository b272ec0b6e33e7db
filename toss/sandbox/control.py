"""Sandbox-only control endpoints under /sandbox (no auth; the server binds loopback).

Documented in docs/sandbox.md; other suites depend on these exact names.
"""

from __future__ import annotations

from aiohttp import web

from toss._validate import CARD_NUMBER_RE, CUSTOMER_KEY_RE
from toss.sandbox.api import json_response
from toss.sandbox.context import STORE
from toss.sandbox.objects import new_auth_key

__all__ = ["routes"]

routes = web.RouteTableDef()


def _bad(message: str) -> web.Response:
    return json_response({"code": "INVALID_REQUEST", "message": message}, status=400)


@routes.get("/sandbox/health")
async def health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


@routes.post("/sandbox/reset")
async def reset(request: web.Request) -> web.Response:
    request.app[STORE].reset()
    return json_response({"ok": True})


@routes.get("/sandbox/ledger")
async def ledger(request: web.Request) -> web.Response:
    store = request.app[STORE]
    order_id = request.query.get("orderId")
    if order_id is not None:
        found = store.payment_by_order(order_id)
        payments = [found] if found else []
    else:
        payments = list(store.payments.values())
    return json_response({"payments": payments, "count": len(payments)})


@routes.get("/sandbox/faults")
async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STORE].faults.to_json())


@routes.post("/sandbox/faults")
async def set_faults(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
        if not isinstance(payload, dict):
            raise ValueError("body must be a JSON object")
        request.app[STORE].faults.update(payload)
    except ValueError as exc:
        return _bad(str(exc))
    return json_response(request.app[STORE].faults.to_json())


@routes.delete("/sandbox/faults")
async def clear_faults(request: web.Request) -> web.Response:
    request.app[STORE].faults.clear()
    return json_response(request.app[STORE].faults.to_json())


@routes.post("/sandbox/auth-keys")
async def create_auth_key(request: web.Request) -> web.Response:
    """Stand-in for the browser SDK flow: an authKey for /v1/billing/authorizations/issue."""
    try:
        payload = await request.json()
    except ValueError:
        return _bad("body must be JSON")
    customer_key, card_number = payload.get("customerKey"), payload.get("cardNumber")
    if not isinstance(customer_key, str) or not CUSTOMER_KEY_RE.fullmatch(customer_key):
        return _bad("customerKey is invalid")
    if not isinstance(card_number, str) or not CARD_NUMBER_RE.fullmatch(card_number):
        return _bad("cardNumber must be 14-20 digits")
    auth_key = new_auth_key()
    store = request.app[STORE]
    store.auth_keys[auth_key] = {"customerKey": customer_key, "cardNumber": card_number}
    store.save()
    return json_response({"authKey": auth_key, "customerKey": customer_key})
