"""Typed application keys shared by the sandbox's modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from toss.sandbox.store import Store

__all__ = ["STORE", "NOW", "BASE_LATENCY_MS", "DROP_RESPONSE"]

#: The sandbox state.
STORE = web.AppKey("store", Store)
#: The clock: returns an aware datetime (UTC). Injected so tests can move time.
NOW: web.AppKey[Callable[[], datetime]] = web.AppKey("now")
#: Latency added to every charge, from --latency-ms, in milliseconds.
BASE_LATENCY_MS = web.AppKey("base_latency_ms", int)
#: Set on a charge request whose answer the dropResponse fault swallows.
DROP_RESPONSE = web.RequestKey("drop_response", bool)
