"""What every /v1 request passes before its handler: auth, test-code header, idempotency.

Order (facts §1, §7, §9): authenticate; refuse an over-long Idempotency-Key; answer a
TossPayments-Test-Code before any validation; then replay, 409, or run-and-record.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from aiohttp import web

from toss._codes import CATALOGUE
from toss._validate import IDEMPOTENCY_KEY_MAX_CHARS
from toss.sandbox.context import NOW, STORE
from toss.sandbox.errors import ApiError, error_response
from toss.sandbox.store import IDEMPOTENCY_TTL_SECONDS, scope_id

__all__ = ["gate"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def authenticate(request: web.Request) -> str:
    """Return the secret key from Basic auth, or raise the code Toss would answer."""
    header = request.headers.get("Authorization")
    if not header:
        # UNCONFIRMED (facts §12.8): 401 vs 403 for a missing header; we pick 401, the code a
        # client most likely already treats as "bad key".
        raise ApiError("UNAUTHORIZED_KEY")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        raise ApiError("UNAUTHORIZED_KEY")
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError("UNAUTHORIZED_KEY") from None
    if ":" not in decoded:
        raise ApiError("INCORRECT_BASIC_AUTH_FORMAT")
    secret = decoded.split(":", 1)[0]
    # The sandbox is test mode only: live keys (and anything else) are unknown keys here.
    if not secret.startswith("test_sk_") or len(secret) == len("test_sk_"):
        raise ApiError("UNAUTHORIZED_KEY")
    return secret


async def _run(handler: Handler, request: web.Request) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(request, exc.code)


async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate and apply test-code and idempotency rules around a /v1 handler."""
    secret = authenticate(request)
    key = request.headers.get("Idempotency-Key")
    is_post = request.method == "POST"
    if is_post and key is not None and len(key) > IDEMPOTENCY_KEY_MAX_CHARS:
        raise ApiError("INVALID_IDEMPOTENCY_KEY")
    test_code = request.headers.get("TossPayments-Test-Code")
    if test_code is not None:
        # Answered before validation, like Toss (facts §9); unknown value -> INVALID_TEST_CODE.
        raise ApiError(test_code if test_code in CATALOGUE else "INVALID_TEST_CODE")
    if not is_post or not key:
        return await _run(handler, request)  # a key on a GET is ignored (facts §7)
    store, now = request.app[STORE], request.app[NOW]
    scope = scope_id(
        idempotency_key=key, secret_key=secret, method=request.method, path=request.raw_path
    )
    record = store.idempotency.get(scope)
    now_s = now().timestamp()
    if record is not None and now_s - record["storedAt"] < IDEMPOTENCY_TTL_SECONDS:
        # Body is not part of the match (facts §7): a reused key replays the first answer.
        return web.Response(
            status=record["status"], text=record["body"], content_type="application/json"
        )
    if scope in store.in_flight:
        raise ApiError("IDEMPOTENT_REQUEST_PROCESSING")
    store.in_flight.add(scope)
    try:
        response = await _run(handler, request)
    finally:
        store.in_flight.discard(scope)
    # Errors are replayed too (the conservative reading of facts §7), except 5xx: a 500 here
    # means "nothing processed" (fail500 fault), so a same-key resend must be able to succeed.
    if response.status < 500 and isinstance(response, web.Response):
        store.idempotency[scope] = {
            "status": response.status, "body": response.text or "", "storedAt": now_s,
        }  # fmt: skip
        store.save()
    return response
