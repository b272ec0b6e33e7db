"""The sandbox's one exception: answer with a catalogue code (status, message: toss/_codes)."""

from __future__ import annotations

import json

from aiohttp import web

from toss._codes import CATALOGUE

__all__ = ["ApiError", "error_response", "TRACE_HEADER"]

#: Header Toss puts on every response (facts §0).
TRACE_HEADER = "X-TossPayments-Trace-Id"


class ApiError(Exception):
    """Raised by handlers; rendered as Toss's ``{"code", "message"}`` with the catalogue status."""

    def __init__(self, code: str) -> None:
        if code not in CATALOGUE:  # a sandbox bug, not a client error
            raise KeyError(f"code {code} is not in toss/_codes.py")
        super().__init__(code)
        self.code = code


def wants_english(request: web.Request) -> bool:
    return request.headers.get("Accept-Language", "").lower().startswith("en")


def error_response(request: web.Request, code: str) -> web.Response:
    info = CATALOGUE[code]
    message = info.message_en if wants_english(request) else info.message_ko
    return web.Response(
        status=info.http_status,
        text=json.dumps({"code": code, "message": message}, ensure_ascii=False),
        content_type="application/json",
    )
