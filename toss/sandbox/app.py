"""``make_app``: the sandbox aiohttp application (Toss look-alike + /sandbox control API)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from scheduler.clock import SystemClock
from toss.sandbox import api, control
from toss.sandbox.context import BASE_LATENCY_MS, DROP_RESPONSE, NOW, STORE
from toss.sandbox.errors import TRACE_HEADER, ApiError, error_response
from toss.sandbox.gate import Handler, gate
from toss.sandbox.store import Store

__all__ = ["make_app"]


@web.middleware
async def _toss_envelope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Trace header and Toss error JSON on every response; drops the answer when asked to."""
    try:
        if request.path.startswith("/v1/"):
            response = await gate(request, handler)
        else:
            response = await handler(request)
    except ApiError as exc:
        response = error_response(request, exc.code)
    except web.HTTPNotFound:
        response = error_response(request, "NOT_FOUND")
    except web.HTTPMethodNotAllowed:
        response = error_response(request, "INVALID_REQUEST")
    response.headers[TRACE_HEADER] = secrets.token_hex(16)
    if request.get(DROP_RESPONSE) and request.transport is not None:
        # dropResponse fault: the payment is recorded, but the client sees a closed socket.
        request.transport.abort()
    return response


def make_app(
    state_file: str | os.PathLike[str] | None = None,
    *,
    now: Callable[[], datetime] | None = None,
    latency_ms: int = 0,
) -> web.Application:
    """Build the sandbox app. ``now`` returns aware datetimes (default: the system clock);
    ``latency_ms`` is added to every charge; ``state_file`` persists keys and payments."""
    app = web.Application(middlewares=[_toss_envelope])
    app[STORE] = Store(state_file)
    app[NOW] = now or SystemClock().now
    app[BASE_LATENCY_MS] = latency_ms
    app.add_routes(control.routes)
    app.add_routes(api.routes)
    return app
