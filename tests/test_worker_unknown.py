"""Unknown outcomes, crashes, setup errors and concurrency: never a second payment."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models import ChargeAttempt, Customer
from models.crypto import BillingKeyCipher, generate_key
from tests.fixtures.sandbox import SandboxHandle
from tests.fixtures.worker import START, WorkerEnv, make_client, make_worker_env
from tests.helpers.wait import wait_until
from worker.billing import run_charge, run_reconcile


def _ckey(env: WorkerEnv, customer_id: int) -> str:
    with env.factory() as s:
        return s.get_one(Customer, customer_id).customer_key


def test_dropped_response_is_reconciled_as_done(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid, _, chid = env.setup()
    env.sandbox.set_faults(dropResponse=1, customerKey=_ckey(env, cid))
    assert run_charge(env.deps, chid) == "UNKNOWN"
    charge = env.charge_row(chid)
    assert charge.next_attempt_at == START + timedelta(seconds=15)
    assert charge.decline_count == 0
    # Not due yet for the charge task; the scheduler publishes it to reconcile.
    assert run_charge(env.deps, chid) == "UNKNOWN"
    env.clock.advance(seconds=15)
    assert run_reconcile(env.deps, chid) == "DONE"
    assert len(env.sandbox.ledger(charge.order_id)) == 1
    assert [(a.call, a.outcome) for a in env.attempts(chid)] == [
        ("CHARGE", "UNKNOWN"), ("LOOKUP", "DONE"),
    ]  # fmt: skip
    assert env.charge_row(chid).payment_key == env.sandbox.ledger()[0]["paymentKey"]


def test_500_then_not_found_is_resent_with_a_new_attempt(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid, _, chid = env.setup()
    env.sandbox.set_faults(fail500=1, customerKey=_ckey(env, cid))
    assert run_charge(env.deps, chid) == "UNKNOWN"
    env.clock.advance(seconds=15)
    assert run_charge(env.deps, chid) == "DONE"  # lookup 404, then re-sent
    order_id = env.charge_row(chid).order_id
    rows = env.attempts(chid)
    assert [(a.call, a.outcome, a.number) for a in rows] == [
        ("CHARGE", "UNKNOWN", 1), ("LOOKUP", "NOT_FOUND", 1), ("CHARGE", "DONE", 2),
    ]  # fmt: skip
    assert rows[2].idempotency_key == f"{order_id}-a2"
    assert env.charge_row(chid).decline_count == 0
    assert len(env.sandbox.ledger(order_id)) == 1


def test_read_timeout_then_reconcile(worker_env: WorkerEnv) -> None:
    env = worker_env
    env.use_client(make_client(env.sandbox.url, charge_read_timeout_seconds=0.3))
    cid, _, chid = env.setup()
    env.sandbox.set_faults(latencyMs=1200, customerKey=_ckey(env, cid))
    assert run_charge(env.deps, chid) == "UNKNOWN"
    order_id = env.charge_row(chid).order_id
    wait_until(lambda: env.sandbox.ledger(order_id), timeout_seconds=10, message="late charge")
    env.clock.advance(seconds=15)
    assert run_reconcile(env.deps, chid) == "DONE"
    assert len(env.sandbox.ledger(order_id)) == 1


def test_lookup_failure_climbs_the_ladder(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid, _, chid = env.setup()
    env.sandbox.set_faults(dropResponse=1, customerKey=_ckey(env, cid))
    assert run_charge(env.deps, chid) == "UNKNOWN"
    good = env.deps.toss
    env.use_client(make_client("http://127.0.0.1:9"))  # nothing listens: lookup fails
    for rung, delay in ((1, 60), (2, 300), (3, 3600)):
        env.clock.set(env.charge_row(chid).next_attempt_at)
        assert run_reconcile(env.deps, chid) == "UNKNOWN"
        charge = env.charge_row(chid)
        assert charge.reconcile_count == rung
        assert charge.next_attempt_at == env.clock.now() + timedelta(seconds=delay)
    env.use_client(good)
    assert run_reconcile(env.deps, chid) == "DONE"
    assert len(env.sandbox.ledger()) == 1


def test_crash_mid_call_is_reconciled_not_resent(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid, _, chid = env.setup()
    charge = env.charge_row(chid)
    key = f"{charge.order_id}-a1"
    # The worker recorded the attempt, Toss charged, then the worker died.
    billing_key = env.add_card(cid)
    env.deps.toss.charge(
        billing_key=billing_key, customer_key=_ckey(env, cid), amount=charge.amount,
        order_id=charge.order_id, order_name=charge.order_name, idempotency_key=key,
    )  # fmt: skip
    with env.factory() as s, s.begin():
        s.add(ChargeAttempt(charge_id=chid, call="CHARGE", number=1, idempotency_key=key,
                            amount=charge.amount, started_at=START, outcome="STARTED"))  # fmt: skip
    env.update_charge(
        chid, status="PROCESSING", attempt_count=1, lease_expires_at=START + timedelta(minutes=2)
    )
    assert run_charge(env.deps, chid) == "BUSY"  # lease still held
    env.clock.advance(minutes=3)
    assert run_charge(env.deps, chid) == "DONE"
    assert len(env.sandbox.ledger(charge.order_id)) == 1
    assert [(a.call, a.outcome) for a in env.attempts(chid)] == [
        ("CHARGE", "STARTED"), ("LOOKUP", "DONE"),
    ]  # fmt: skip


def test_crash_before_toss_got_it_resends_the_same_key(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, _, chid = env.setup()
    order_id = env.charge_row(chid).order_id
    with env.factory() as s, s.begin():
        s.add(ChargeAttempt(charge_id=chid, call="CHARGE", number=1, amount=9900,
                            idempotency_key=f"{order_id}-a1", started_at=START,
                            outcome="STARTED"))  # fmt: skip
    env.update_charge(chid, status="PROCESSING", attempt_count=1, lease_expires_at=START)
    env.clock.advance(seconds=1)
    assert run_charge(env.deps, chid) == "DONE"
    rows = env.attempts(chid)
    assert [(a.call, a.outcome) for a in rows] == [
        ("CHARGE", "STARTED"), ("LOOKUP", "NOT_FOUND"), ("CHARGE", "DONE"),
    ]  # fmt: skip
    assert rows[2].idempotency_key == f"{order_id}-a1"


def test_setup_error_pauses_charging_and_recovers(worker_env: WorkerEnv, caplog) -> None:
    env = worker_env
    cid, sid, chid = env.setup()
    other = env.charge(env.subscription(cid))
    good = env.deps.toss
    env.use_client(make_client(env.sandbox.url, secret_key="live_sk_wrong"))
    with caplog.at_level(logging.ERROR):
        assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    assert "charging paused until the Toss key/contract is fixed: UNAUTHORIZED_KEY" in caplog.text
    charge = env.charge_row(chid)
    assert charge.next_attempt_at == START + timedelta(seconds=60)
    assert (charge.decline_count, env.sub_row(sid).status) == (0, "ACTIVE")
    # Breaker open: the other charge is rescheduled without a call to Toss.
    assert run_charge(env.deps, other) == "RETRY_SCHEDULED"
    assert env.attempts(other) == []
    assert env.charge_row(other).next_attempt_at == START + timedelta(seconds=60)
    env.use_client(good)  # the operator fixed the key
    env.clock.advance(seconds=60)
    assert run_charge(env.deps, chid) == "DONE"  # the probe
    assert run_charge(env.deps, other) == "DONE"
    assert env.sub_row(sid).status == "ACTIVE" and len(env.sandbox.ledger()) == 2


def test_unreadable_billing_key_waits_without_past_due(worker_env: WorkerEnv, caplog) -> None:
    """A key encrypted with a Fernet key no longer configured: our configuration, not the
    card. The charge waits (no call, nobody PAST_DUE) and goes through once the key is back."""
    env = worker_env
    _, sid, chid = env.setup()
    right = env.deps.cipher
    env.deps.cipher = BillingKeyCipher([generate_key()])
    with caplog.at_level(logging.ERROR):
        assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    assert "BILLBEAT_ENCRYPTION_KEY" in caplog.text
    charge = env.charge_row(chid)
    assert (charge.failure_code, charge.lease_expires_at) == ("BILLING_KEY_UNREADABLE", None)
    assert env.sub_row(sid).status == "ACTIVE" and env.attempts(chid) == []
    env.deps.cipher = right
    env.clock.set(charge.next_attempt_at)
    assert run_charge(env.deps, chid) == "DONE"


def test_concurrent_runs_call_toss_once(
    committing_factory: sessionmaker[Session], engine: Engine, sandbox: SandboxHandle
) -> None:
    env = make_worker_env(committing_factory, engine, sandbox)
    cid, _, chid = env.setup()
    sandbox.set_faults(latencyMs=300, customerKey=_ckey(env, cid))
    results: list[str] = []
    barrier = threading.Barrier(4)

    def work() -> None:
        barrier.wait()
        results.append(run_charge(env.deps, chid))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    # One thread called Toss; the others saw the claim (BUSY) or, if scheduled late, DONE.
    assert len(results) == 4 and set(results) <= {"BUSY", "DONE"} and "DONE" in results
    assert len(sandbox.ledger()) == 1
    assert len(env.attempts(chid, "CHARGE")) == 1
    env.deps.toss.close()
