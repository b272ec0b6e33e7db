"""TossClient against the real sandbox over HTTP: results, errors, replay, timeouts, secrets."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.wait import wait_until
from toss import (
    Billing,
    ErrorKind,
    Payment,
    TossAPIError,
    TossClient,
    TossConnectionError,
    TossError,
)

CUSTOMER = "cust-9f1c2b7e"
CARD = "4330123412341234"


def issue(client: TossClient, card: str = CARD, customer: str = CUSTOMER) -> Billing:
    return client.issue_billing_key_with_card(
        customer_key=customer, card_number=card, expiration_year="39",
        expiration_month="12", identity_number="900101",
    )  # fmt: skip


def charge(client: TossClient, billing: Billing, order_id: str, **kw: object) -> Payment:
    return client.charge(
        billing_key=billing.billing_key, customer_key=billing.customer_key, amount=4900,
        order_id=order_id, order_name="Premium monthly", **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_issue_with_card_returns_typed_billing(toss_client: TossClient) -> None:
    billing = issue(toss_client)
    assert len(billing.billing_key) == 44 and billing.billing_key.endswith("=")
    assert billing.customer_key == CUSTOMER
    assert billing.card is not None and billing.card.number == "43301234****123*"
    assert billing.authenticated_at is not None
    assert billing.authenticated_at.utcoffset() == timedelta(hours=9)


def test_issue_with_auth_key(toss_client: TossClient, sandbox: SandboxHandle) -> None:
    auth_key = sandbox.auth_key(customer_key=CUSTOMER, card_number="4906250000000000")
    billing = toss_client.issue_billing_key_with_auth_key(auth_key=auth_key, customer_key=CUSTOMER)
    assert charge(toss_client, billing, "order-auth-1").status == "DONE"
    with pytest.raises(TossAPIError) as exc:  # single use
        toss_client.issue_billing_key_with_auth_key(auth_key=auth_key, customer_key=CUSTOMER)
    assert (exc.value.code, exc.value.http_status) == ("NOT_FOUND_BILLING", 404)


def test_charge_lookup_and_cancel(toss_client: TossClient, sandbox: SandboxHandle) -> None:
    billing = issue(toss_client)
    payment = charge(toss_client, billing, "sub-42-2025-01")
    assert (payment.status, payment.type, payment.total_amount) == ("DONE", "BILLING", 4900)
    assert (payment.vat, payment.supplied_amount) == (445, 4455)
    assert payment.approved_at is not None and payment.approved_at.utcoffset() is not None
    assert payment.receipt_url and payment.card and payment.card.amount == 4900
    assert toss_client.get_payment(payment.payment_key).order_id == "sub-42-2025-01"
    assert toss_client.get_payment_by_order_id("sub-42-2025-01").payment_key == payment.payment_key
    partial = toss_client.cancel_payment(
        payment.payment_key, cancel_reason="pro-rata", cancel_amount=900, idempotency_key="c1"
    )
    assert (partial.status, partial.balance_amount) == ("PARTIAL_CANCELED", 4000)
    full = toss_client.cancel_payment(payment.payment_key, cancel_reason="churn")
    assert (full.status, full.balance_amount, full.vat) == ("CANCELED", 0, 0)
    assert full.cancels and len(full.cancels) == 2 and full.cancels[1].refundable_amount == 0
    assert sandbox.ledger()[0]["status"] == "CANCELED"


def test_not_found_payment_is_an_api_error(toss_client: TossClient) -> None:
    with pytest.raises(TossAPIError) as exc:
        toss_client.get_payment_by_order_id("never-charged")
    assert (exc.value.code, exc.value.http_status) == ("NOT_FOUND_PAYMENT", 404)
    assert exc.value.trace_id


@pytest.mark.parametrize(
    ("card", "code", "kind"),
    [
        ("4000000000000002", "REJECT_CARD_PAYMENT", ErrorKind.SOFT_DECLINE),
        ("4000000000000069", "INVALID_CARD_EXPIRATION", ErrorKind.HARD_DECLINE),
        ("4000000000000119", "INVALID_STOPPED_CARD", ErrorKind.HARD_DECLINE),
        ("4000000000000127", "EXCEED_MAX_DAILY_PAYMENT_COUNT", ErrorKind.SOFT_DECLINE),
    ],
)
def test_magic_cards_decline(
    toss_client: TossClient, sandbox: SandboxHandle, card: str, code: str, kind: ErrorKind
) -> None:
    billing = issue(toss_client, card)
    for _ in range(2):  # "always"
        with pytest.raises(TossAPIError) as exc:
            charge(toss_client, billing, "order-magic")
        assert (exc.value.code, exc.value.kind) == (code, kind)
    assert exc.value.retry_not_before_next_day is (code == "EXCEED_MAX_DAILY_PAYMENT_COUNT")
    assert sandbox.ledger() == []


def test_first_n_declines_then_success_with_same_order_id(toss_client: TossClient) -> None:
    billing = issue(toss_client, "4000000000003002")
    for _ in range(2):
        with pytest.raises(TossAPIError, match="REJECT_CARD_PAYMENT"):
            charge(toss_client, billing, "order-dunning")
    # A declined charge does not consume the orderId: the next attempt may reuse it.
    assert charge(toss_client, billing, "order-dunning").status == "DONE"


@pytest.mark.parametrize(
    ("test_code", "kind"),
    [
        ("REJECT_CARD_COMPANY", ErrorKind.SOFT_DECLINE),
        ("INVALID_CARD_LOST_OR_STOLEN", ErrorKind.HARD_DECLINE),
        ("FORBIDDEN_CONSECUTIVE_REQUEST", ErrorKind.TRANSIENT),
        ("COMMON_ERROR", ErrorKind.UNKNOWN_OUTCOME),
        ("INVALID_API_KEY", ErrorKind.SETUP),
        ("INVALID_ORDER_NAME", ErrorKind.INVALID_REQUEST),
    ],
)
def test_test_code_header_gives_each_error_class(
    toss_client: TossClient, test_code: str, kind: ErrorKind
) -> None:
    billing = issue(toss_client)
    with pytest.raises(TossAPIError) as exc:
        charge(toss_client, billing, "order-tc", test_code=test_code)
    assert (exc.value.code, exc.value.kind) == (test_code, kind)


def test_get_on_5xx_is_transient_not_unknown(toss_client: TossClient) -> None:
    # Only charge-like POSTs can leave an unknown outcome; a failed read changed nothing.
    with pytest.raises(TossAPIError) as exc:
        toss_client._request("GET", "/v1/payments/x", test_code="FAILED_INTERNAL_SYSTEM_PROCESSING")
    assert exc.value.kind is ErrorKind.TRANSIENT


def test_wrong_secret_is_setup(sandbox: SandboxHandle) -> None:
    with TossClient(base_url=sandbox.url, secret_key="live_sk_nope") as client:
        with pytest.raises(TossAPIError) as exc:
            client.get_payment("anything")
    assert (exc.value.code, exc.value.http_status, exc.value.kind) == (
        "UNAUTHORIZED_KEY", 401, ErrorKind.SETUP,
    )  # fmt: skip


def test_empty_secret_fails_before_sending() -> None:
    client = TossClient(base_url="http://127.0.0.1:9", secret_key="")
    with pytest.raises(TossError) as exc:
        client.get_payment("x")
    assert exc.value.kind is ErrorKind.SETUP and type(exc.value) is TossError


def test_idempotent_replay_returns_first_payment(
    toss_client: TossClient, sandbox: SandboxHandle
) -> None:
    billing = issue(toss_client)
    first = charge(toss_client, billing, "order-idem", idempotency_key="bb-order-idem-a1")
    # The body is not part of the match: even a different orderId replays the first answer.
    again = charge(toss_client, billing, "order-other", idempotency_key="bb-order-idem-a1")
    assert again.payment_key == first.payment_key
    assert len(sandbox.ledger()) == 1


def test_409_while_first_request_in_flight(toss_client: TossClient, sandbox: SandboxHandle) -> None:
    billing = issue(toss_client)
    sandbox.set_faults(latencyMs=800)
    outcomes: list[object] = []

    def attempt() -> None:
        try:
            outcomes.append(charge(toss_client, billing, "order-409", idempotency_key="k409"))
        except TossAPIError as exc:
            outcomes.append(exc)

    # Two sends of one attempt, well inside the 800 ms the first one spends in the sandbox.
    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [o for o in outcomes if isinstance(o, Payment)]
    conflicts = [o for o in outcomes if isinstance(o, TossAPIError)]
    assert len(done) == 1 and done[0].status == "DONE"
    assert [(c.code, c.http_status, c.kind) for c in conflicts] == [
        ("IDEMPOTENT_REQUEST_PROCESSING", 409, ErrorKind.UNKNOWN_OUTCOME)
    ]
    assert len(sandbox.ledger()) == 1
    # Once the first has finished, the same key replays its payment.
    sandbox.clear_faults()
    replay = charge(toss_client, billing, "order-409", idempotency_key="k409")
    assert replay.payment_key == done[0].payment_key


def test_read_timeout_on_charge_is_unknown_outcome(sandbox: SandboxHandle) -> None:
    with TossClient(base_url=sandbox.url, secret_key=TEST_SECRET_KEY,
                    charge_read_timeout_seconds=0.3) as client:  # fmt: skip
        billing = issue(client)
        sandbox.set_faults(latencyMs=1000)
        with pytest.raises(TossConnectionError) as exc:
            charge(client, billing, "order-slow")
        assert exc.value.kind is ErrorKind.UNKNOWN_OUTCOME
        # The sandbox finishes the charge after the client gave up: reconcile finds it.
        wait_until(lambda: sandbox.ledger("order-slow"), timeout_seconds=5, message="charge")
        assert client.get_payment_by_order_id("order-slow").status == "DONE"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_transient() -> None:
    with TossClient(base_url=f"http://127.0.0.1:{_closed_port()}", secret_key=TEST_SECRET_KEY,
                    connect_timeout_seconds=1) as client:  # fmt: skip
        with pytest.raises(TossConnectionError) as exc:
            client.charge(billing_key="Z_t5vOvQxrj4499PeiJcjen28-V2RyqgYTwN44Rdzk0=",
                          customer_key=CUSTOMER, amount=4900, order_id="order-refused",
                          order_name="x")  # fmt: skip
    assert exc.value.kind is ErrorKind.TRANSIENT and exc.value.retryable


def test_drop_response_is_unknown_then_lookup_finds_done(
    toss_client: TossClient, sandbox: SandboxHandle
) -> None:
    billing = issue(toss_client)
    sandbox.set_faults(dropResponse=1)
    with pytest.raises(TossConnectionError) as exc:
        charge(toss_client, billing, "order-dropped", idempotency_key="kdrop")
    assert exc.value.kind is ErrorKind.UNKNOWN_OUTCOME
    assert toss_client.get_payment_by_order_id("order-dropped").status == "DONE"
    # Re-sending the same attempt replays the recorded payment instead of charging again.
    assert charge(toss_client, billing, "order-dropped", idempotency_key="kdrop").status == "DONE"
    assert len(sandbox.ledger()) == 1


def test_fail500_then_same_key_resend_succeeds(
    toss_client: TossClient, sandbox: SandboxHandle
) -> None:
    billing = issue(toss_client)
    sandbox.set_faults(fail500=1)
    with pytest.raises(TossAPIError) as exc:
        charge(toss_client, billing, "order-500", idempotency_key="k500")
    assert (exc.value.http_status, exc.value.kind) == (500, ErrorKind.UNKNOWN_OUTCOME)
    assert sandbox.ledger() == []
    assert charge(toss_client, billing, "order-500", idempotency_key="k500").status == "DONE"


def test_secrets_never_in_logs_reprs_or_errors(
    sandbox: SandboxHandle, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "test_sk_very_secret_value_123"
    caplog.set_level(logging.DEBUG)
    with TossClient(base_url=sandbox.url, secret_key=secret) as client:
        billing = issue(client)
        charge(client, billing, "order-log-1")
        sandbox.set_faults(dropResponse=1)
        errors: list[Exception] = []
        for order, kw in (("order-log-1", {}), ("order-log-2", {}),
                          ("order-log-3", {"test_code": "REJECT_CARD_PAYMENT"})):  # fmt: skip
            try:
                charge(client, billing, order, **kw)
            except TossError as exc:
                errors.append(exc)
        texts = [caplog.text, repr(client), repr(billing), str(billing)]
        texts += [f"{e} {e!r}" for e in errors]
    assert len(errors) == 3 and "…" + billing.billing_key[-4:] in caplog.text
    for text in texts:
        for needle in (secret, billing.billing_key, CARD):
            assert needle not in text


# ---- proxies: read from the environment once, when the client is built ---------------------


class _ForwardingProxy:
    """A plain-HTTP forward proxy on loopback that records the URLs it forwarded."""

    def __init__(self) -> None:
        import http.server
        import urllib.request

        seen: list[str] = []
        self.seen = seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def _forward(self) -> None:
                seen.append(self.path)  # absolute-form URL: what a client sends to a proxy
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                skip = {"host", "proxy-connection", "connection", "content-length"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                req = urllib.request.Request(self.path, data=body, method=self.command,
                                             headers=headers)  # fmt: skip
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                try:
                    resp = opener.open(req, timeout=5)
                except urllib.error.HTTPError as err:
                    resp = err
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _forward

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy() -> Iterator[_ForwardingProxy]:
    p = _ForwardingProxy()
    yield p
    p.close()


def test_proxy_from_environment_is_used(
    sandbox: SandboxHandle, proxy: _ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    client = TossClient(base_url=sandbox.url, secret_key=TEST_SECRET_KEY)
    try:
        billing = issue(client)
        assert charge(client, billing, "order-proxy-1").status == "DONE"
    finally:
        client.close()
    assert len(proxy.seen) == 2 and all(u.startswith(sandbox.url) for u in proxy.seen)


def test_no_proxy_bypasses_the_proxy(
    sandbox: SandboxHandle, proxy: _ForwardingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    client = TossClient(base_url=sandbox.url, secret_key=TEST_SECRET_KEY)
    try:
        issue(client)
    finally:
        client.close()
    assert proxy.seen == []
