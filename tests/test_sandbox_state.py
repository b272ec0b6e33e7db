"""Sandbox state: persistence across restarts, faults API, clock injection, CLI process."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from scheduler.clock import ManualClock
from tests.fixtures.sandbox import TEST_SECRET_KEY, SandboxHandle
from tests.helpers.procs import sandbox_process
from toss import TossAPIError, TossClient
from toss.sandbox import SandboxServer

CUSTOMER = "cust-state"


def client_for(url: str) -> TossClient:
    return TossClient(base_url=url, secret_key=TEST_SECRET_KEY, charge_read_timeout_seconds=5)


def issue(client: TossClient, *, year: str = "39", month: str = "12", customer: str = CUSTOMER):
    return client.issue_billing_key_with_card(
        customer_key=customer, card_number="4906250000000000", expiration_year=year,
        expiration_month=month, identity_number="900101",
    )  # fmt: skip


def test_state_file_survives_restart(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    first = SandboxServer(state_file=state).start()
    try:
        with client_for(first.url) as client:
            billing = issue(client)
            paid = client.charge(billing_key=billing.billing_key, customer_key=CUSTOMER,
                                 amount=1000, order_id="order-persist", order_name="x",
                                 idempotency_key="kp")  # fmt: skip
    finally:
        first.stop()
    assert state.exists() and billing.billing_key not in state.read_text().split("idempotency")[1]
    second = SandboxServer(state_file=state).start()
    try:
        with client_for(second.url) as client:
            assert client.get_payment_by_order_id("order-persist").payment_key == paid.payment_key
            replay = client.charge(billing_key=billing.billing_key, customer_key=CUSTOMER,
                                   amount=1000, order_id="order-persist", order_name="x",
                                   idempotency_key="kp")  # fmt: skip
            assert replay.payment_key == paid.payment_key
            # The key issued before the restart still charges.
            again = client.charge(billing_key=billing.billing_key, customer_key=CUSTOMER,
                                  amount=1000, order_id="order-p2", order_name="x")  # fmt: skip
            assert again.status == "DONE"
    finally:
        second.stop()


def test_clock_decides_card_expiry_and_idempotency_ttl() -> None:
    clock = ManualClock(datetime(2030, 5, 10, tzinfo=UTC))
    server = SandboxServer(now=clock.now).start()
    try:
        with client_for(server.url) as client:
            with pytest.raises(TossAPIError, match="INVALID_CARD_EXPIRATION"):
                issue(client, year="30", month="04")
            billing = issue(client, year="30", month="05")  # valid through the end of May
            kw = {"billing_key": billing.billing_key, "customer_key": CUSTOMER, "amount": 500,
                  "order_name": "x", "idempotency_key": "kttl"}  # fmt: skip
            first = client.charge(order_id="order-ttl-1", **kw)  # type: ignore[arg-type]
            clock.advance(days=14)
            assert client.charge(order_id="order-ttl-2", **kw).payment_key == first.payment_key  # type: ignore[arg-type]
            clock.advance(days=2)  # past 15 days: the key is new again
            assert client.charge(order_id="order-ttl-3", **kw).payment_key != first.payment_key  # type: ignore[arg-type]
    finally:
        server.stop()


def test_faults_api_and_customer_scope(sandbox: SandboxHandle, toss_client: TossClient) -> None:
    shown = sandbox.set_faults(declineCode="REJECT_CARD_COMPANY", declineCount=1,
                               customerKey="cust-a")  # fmt: skip
    assert shown["byCustomerKey"]["cust-a"]["declineCount"] == 1
    a, b = issue(toss_client, customer="cust-a"), issue(toss_client, customer="cust-b")
    ok = toss_client.charge(billing_key=b.billing_key, customer_key="cust-b", amount=500,
                            order_id="order-b-1", order_name="x")  # fmt: skip
    assert ok.status == "DONE"
    with pytest.raises(TossAPIError, match="REJECT_CARD_COMPANY"):
        toss_client.charge(billing_key=a.billing_key, customer_key="cust-a", amount=500,
                           order_id="order-a-1", order_name="x")  # fmt: skip
    assert toss_client.charge(billing_key=a.billing_key, customer_key="cust-a", amount=500,
                              order_id="order-a-1", order_name="x").status == "DONE"  # fmt: skip
    assert [p["orderId"] for p in sandbox.ledger("order-a-1")] == ["order-a-1"]
    bad = requests.post(f"{sandbox.url}/sandbox/faults", json={"fail500": -1}, timeout=5)
    assert bad.status_code == 400
    sandbox.set_faults(latencyMs=5, fail500=2)
    sandbox.clear_faults()
    faults = requests.get(f"{sandbox.url}/sandbox/faults", timeout=5).json()
    assert (faults["latencyMs"], faults["fail500"], faults["byCustomerKey"]) == (0, 0, {})


def test_reset_clears_keys_and_payments(sandbox: SandboxHandle, toss_client: TossClient) -> None:
    billing = issue(toss_client)
    toss_client.charge(billing_key=billing.billing_key, customer_key=CUSTOMER, amount=500,
                       order_id="order-reset", order_name="x")  # fmt: skip
    sandbox.reset()
    assert sandbox.ledger() == []
    with pytest.raises(TossAPIError, match="NOT_FOUND_BILLING"):
        toss_client.charge(billing_key=billing.billing_key, customer_key=CUSTOMER, amount=500,
                           order_id="order-reset", order_name="x")  # fmt: skip


def test_module_entry_point_serves(tmp_path: Path) -> None:
    with sandbox_process("--state-file", str(tmp_path / "s.json")) as (proc, _):
        assert proc.poll() is None  # healthy, still running
