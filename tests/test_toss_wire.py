"""The client's direct-to-adapter path sends what ``requests.Session.request`` would send.

``Transport._send`` prepares requests itself when the client owns its session (docs in
toss/_transport.py). A recording HTTP server on loopback captures the request line, headers and
body of the same charge sent both ways (the client's own session, and a caller-supplied one,
which takes ``Session.request``) and they must match byte for byte.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from toss import TossClient

_PAYMENT = {
    "paymentKey": "pk_1", "orderId": "o", "orderName": "n", "status": "DONE",
    "totalAmount": 1000, "balanceAmount": 1000, "method": "카드",
    "approvedAt": "2026-12-04T10:00:00+09:00", "requestedAt": "2026-12-04T10:00:00+09:00",
}  # fmt: skip


class _Recorder:
    """Answers every POST with a DONE payment and records what it received."""

    def __init__(self) -> None:
        seen: list[dict[str, Any]] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 -- http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append({"line": self.requestline, "headers": dict(self.headers.items()),
                             "body": body})  # fmt: skip
                answer = json.dumps(_PAYMENT).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    rec = _Recorder()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def _charge(client: TossClient) -> None:
    client.charge(billing_key="bk/=+_-key", customer_key="cus_1", amount=1000,
                  order_id="order-wire-1", order_name="플랜 월간", tax_free_amount=0,
                  idempotency_key="order-wire-1-a1")  # fmt: skip


def test_owned_session_sends_what_session_request_sends(recorder: _Recorder) -> None:
    own = TossClient(base_url=recorder.url, secret_key="test_sk_wire")
    plain = TossClient(base_url=recorder.url, secret_key="test_sk_wire",
                       session=requests.Session())  # fmt: skip
    with own, plain:
        _charge(own)  # the direct-to-adapter path
        _charge(plain)  # requests' Session.request
    assert len(recorder.seen) == 2
    direct, reference = recorder.seen
    assert direct["line"] == reference["line"]
    assert "%2F" in direct["line"] and "%3D" in direct["line"]  # the key is one path segment
    assert direct["body"] == reference["body"]
    assert json.loads(direct["body"])["orderName"] == "플랜 월간"
    assert direct["headers"] == reference["headers"]
    assert direct["headers"]["Idempotency-Key"] == "order-wire-1-a1"
    assert direct["headers"]["Content-Type"] == "application/json"
