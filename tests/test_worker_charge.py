"""The charge state machine against a real DB (SQLite + PostgreSQL) and the sandbox over HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from tests.fixtures.worker import START, WorkerEnv
from worker.billing import charge_subscription_now, retry_charge_now, run_charge

DAY = 86400


def test_success_records_done_and_one_payment(worker_env: WorkerEnv, caplog) -> None:
    env = worker_env
    _, sid, chid = env.setup(amount=9900)
    with caplog.at_level(logging.INFO):
        assert run_charge(env.deps, chid) == "DONE"
    charge = env.charge_row(chid)
    assert charge.status == "DONE" and charge.payment_key and charge.approved_at
    assert charge.receipt_url and charge.next_attempt_at is None and charge.attempt_count == 1
    ledger = env.sandbox.ledger(charge.order_id)
    assert [(p["orderId"], p["totalAmount"]) for p in ledger] == [(charge.order_id, 9900)]
    [attempt] = env.attempts(chid)
    assert (attempt.call, attempt.outcome, attempt.number) == ("CHARGE", "DONE", 1)
    assert attempt.idempotency_key == f"{charge.order_id}-a1"
    assert attempt.http_status == 200 and attempt.finished_at is not None
    assert attempt.response["paymentKey"] == charge.payment_key
    assert "billingKey" not in str(attempt.response)
    assert f"charge_id={chid} subscription_id={sid} amount=9900 attempt=1 outcome=DONE" in (
        caplog.text
    )


def test_second_delivery_does_not_charge_again(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, _, chid = env.setup()
    assert run_charge(env.deps, chid) == "DONE"
    assert run_charge(env.deps, chid) == "DONE"
    assert len(env.sandbox.ledger(env.charge_row(chid).order_id)) == 1
    assert len(env.attempts(chid)) == 1


def test_soft_decline_schedule_then_exhaustion(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, sid, chid = env.setup("4000000000000002")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    charge = env.charge_row(chid)
    assert charge.next_attempt_at == START + timedelta(days=1)
    assert (charge.decline_count, charge.failure_code) == (1, "REJECT_CARD_PAYMENT")
    assert env.sub_row(sid).status == "PAST_DUE"
    # Not due yet: a redelivery does nothing.
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    assert len(env.attempts(chid)) == 1
    # Retries planned from the first failure: +1d, +1d+3d, +1d+3d+5d.
    for planned_days in (4, 9):
        env.clock.set(env.charge_row(chid).next_attempt_at)
        assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
        assert env.charge_row(chid).next_attempt_at == START + timedelta(days=planned_days)
    env.clock.set(env.charge_row(chid).next_attempt_at)
    assert run_charge(env.deps, chid) == "FAILED"
    charge, sub = env.charge_row(chid), env.sub_row(sid)
    assert (charge.status, charge.decline_count, charge.attempt_count) == ("FAILED", 4, 4)
    assert (sub.status, sub.next_charge_at) == ("UNPAID", None)
    keys = [a.idempotency_key for a in env.attempts(chid)]
    assert keys == [f"{charge.order_id}-a{n}" for n in (1, 2, 3, 4)]
    assert env.sandbox.ledger(charge.order_id) == []


def test_operator_retry_after_exhaustion_reactivates_unpaid(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, sid, chid = env.setup("4000000000003004")  # declines 4 charges, then succeeds
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    while (status := env.charge_row(chid).status) == "RETRY_SCHEDULED":
        env.clock.set(env.charge_row(chid).next_attempt_at)
        run_charge(env.deps, chid)
    assert (status, env.sub_row(sid).status) == ("FAILED", "UNPAID")
    assert retry_charge_now(env.deps, chid) == "DONE"
    sub = env.sub_row(sid)
    assert sub.status == "ACTIVE"
    assert sub.next_charge_at is not None and sub.next_charge_at > env.clock.now()


def test_card_declining_first_two_charges_succeeds_on_third(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, sid, chid = env.setup("4000000000003002")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    env.clock.set(env.charge_row(chid).next_attempt_at)
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    env.clock.set(env.charge_row(chid).next_attempt_at)
    assert run_charge(env.deps, chid) == "DONE"
    charge = env.charge_row(chid)
    attempts = env.attempts(chid)
    assert [a.outcome for a in attempts] == ["DECLINED", "DECLINED", "DONE"]
    assert len({a.idempotency_key for a in attempts}) == 3
    assert [p["orderId"] for p in env.sandbox.ledger()] == [charge.order_id]
    assert env.sub_row(sid).status == "ACTIVE"  # recovered from PAST_DUE


def test_hard_decline_waits_for_card_then_fails_without_calling(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, sid, chid = env.setup("4000000000000119")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    charge = env.charge_row(chid)
    assert charge.waiting_for_card and charge.failure_code == "INVALID_STOPPED_CARD"
    assert charge.next_attempt_at == START + timedelta(days=9)
    assert env.sub_row(sid).status == "PAST_DUE"
    env.clock.advance(days=5)
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"  # not due: nothing happens
    env.clock.advance(days=4)
    assert run_charge(env.deps, chid) == "FAILED"
    assert len(env.attempts(chid)) == 1  # no call at the deadline
    sub = env.sub_row(sid)
    assert (sub.status, sub.next_charge_at) == ("UNPAID", None)


def test_replaced_card_charges_same_order_with_new_key(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid, sid, chid = env.setup("4000000000000069")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    env.clock.advance(hours=2)
    env.add_card(cid)  # the card service: new ACTIVE key, reopen the customer's charges
    env.update_charge(chid, waiting_for_card=False, next_attempt_at=env.clock.now())
    assert run_charge(env.deps, chid) == "DONE"
    charge = env.charge_row(chid)
    assert [a.idempotency_key for a in env.attempts(chid)] == [
        f"{charge.order_id}-a1",
        f"{charge.order_id}-a2",
    ]
    assert len(env.sandbox.ledger(charge.order_id)) == 1
    assert env.sub_row(sid).status == "ACTIVE"


def test_daily_limit_retries_at_next_korean_midnight(worker_env: WorkerEnv) -> None:
    env = worker_env
    env.deps.settings = env.deps.settings.model_copy(update={"retry_schedule": "1h,1h"})
    _, _, chid = env.setup("4000000000000127")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    # 10:00 KST on 2 March -> 00:00 KST on 3 March = 15:00 UTC on 2 March.
    assert env.charge_row(chid).next_attempt_at == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_no_billing_key_is_a_hard_decline(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid = env.customer(card_number=None)
    chid = env.charge(env.subscription(cid))
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    charge = env.charge_row(chid)
    assert charge.waiting_for_card and charge.failure_code == "NO_BILLING_KEY"
    assert env.attempts(chid) == []


def test_invalid_request_fails_without_retry(worker_env: WorkerEnv, caplog) -> None:
    env = worker_env
    cid, sid, chid = env.setup()
    key = env.deps.session_factory
    assert key  # the fault is scoped to this customer's key
    with env.factory() as s:
        from models import Customer

        ckey = s.get_one(Customer, cid).customer_key
    env.sandbox.set_faults(declineCode="INVALID_REQUEST", customerKey=ckey)
    with caplog.at_level(logging.ERROR):
        assert run_charge(env.deps, chid) == "FAILED"
    charge = env.charge_row(chid)
    assert (charge.failure_code, charge.next_attempt_at, charge.decline_count) == (
        "INVALID_REQUEST", None, 0,
    )  # fmt: skip
    assert env.sub_row(sid).status == "PAST_DUE"
    assert "invalid request code=INVALID_REQUEST" in caplog.text


def test_canceled_subscription_is_not_charged(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid = env.customer()
    sid = env.subscription(cid, status="CANCELED")
    chid = env.charge(sid)
    assert run_charge(env.deps, chid) == "SKIPPED"
    assert env.charge_row(chid).failure_code == "SUBSCRIPTION_CANCELED"
    assert env.sandbox.ledger() == [] and env.attempts(chid) == []
    assert charge_subscription_now(env.deps, sid) == "REFUSED"


def test_amount_is_the_charge_rows(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, sid, chid = env.setup(amount=9900)
    with env.factory() as s, s.begin():
        from models import Subscription

        s.get_one(Subscription, sid).amount = 19900
    assert run_charge(env.deps, chid) == "DONE"
    assert [p["totalAmount"] for p in env.sandbox.ledger()] == [9900]
    assert env.attempts(chid)[0].amount == 9900


def test_charge_subscription_now_uses_current_amount(worker_env: WorkerEnv) -> None:
    env = worker_env
    cid = env.customer()
    sid = env.subscription(cid, amount=4900)
    env.clock.advance(seconds=0.5)
    assert charge_subscription_now(env.deps, sid) == "DONE"
    [payment] = env.sandbox.ledger()
    assert payment["totalAmount"] == 4900
    assert payment["orderId"] == f"bb-{sid}-20260302010000"


def test_charge_subscription_now_redelivered_never_charges_twice(worker_env: WorkerEnv) -> None:
    """A redelivered message (same task id, seconds later, e.g. after a worker crash) finishes
    the same charge; a separate request is a separate charge."""
    env = worker_env
    sid = env.subscription(env.customer(), amount=4900)
    assert charge_subscription_now(env.deps, sid, request_id="task-1") == "DONE"
    env.clock.advance(seconds=7)
    assert charge_subscription_now(env.deps, sid, request_id="task-1") == "DONE"
    assert len(env.sandbox.ledger()) == 1
    env.clock.advance(seconds=7)
    assert charge_subscription_now(env.deps, sid, request_id="task-2") == "DONE"
    assert len({p["orderId"] for p in env.sandbox.ledger()}) == 2


def test_retry_charge_now_is_a_new_attempt(worker_env: WorkerEnv) -> None:
    env = worker_env
    _, _, chid = env.setup("4000000000003001")
    assert run_charge(env.deps, chid) == "RETRY_SCHEDULED"
    assert retry_charge_now(env.deps, chid) == "DONE"  # not waiting the day
    assert [a.number for a in env.attempts(chid)] == [1, 2]
    assert retry_charge_now(env.deps, chid) == "REFUSED"  # DONE is final


def test_attempt_is_recorded_before_the_call_and_settled_after(worker_env: WorkerEnv) -> None:
    """The STARTED row (claim's transaction) exists while Toss is being called; the settle
    writes the end time, the response and releases the lease, at the clock's times."""
    env = worker_env
    _, _, chid = env.setup()
    real_charge = env.deps.toss.charge
    seen: list[tuple[str, str, object, object]] = []

    def charge_and_look(**kw: object) -> object:
        [row] = env.attempts(chid)
        charge = env.charge_row(chid)
        seen.append((row.outcome, charge.status, row.started_at, charge.lease_expires_at))
        env.clock.advance(seconds=3)  # the call takes 3 s
        return real_charge(**kw)  # type: ignore[arg-type]

    env.deps.toss.charge = charge_and_look  # type: ignore[method-assign]
    assert run_charge(env.deps, chid) == "DONE"
    [(outcome, status, started_at, lease)] = seen
    assert (outcome, status, started_at) == ("STARTED", "PROCESSING", START)
    assert lease is not None and lease > START
    [attempt] = env.attempts(chid)
    charge = env.charge_row(chid)
    assert attempt.started_at == START and attempt.finished_at == START + timedelta(seconds=3)
    assert attempt.outcome == "DONE" and attempt.response["status"] == "DONE"
    assert charge.lease_expires_at is None and charge.updated_at == START + timedelta(seconds=3)


def test_lease_lost_during_the_call_completes_the_attempt_but_not_the_charge(
    worker_env: WorkerEnv,
) -> None:
    """Another worker took the charge over while ours waited on Toss (its lease expired): our
    answer is still logged on our attempt row, but the charge is left to the new holder."""
    env = worker_env
    _, _, chid = env.setup()
    real_charge = env.deps.toss.charge
    theirs = START + timedelta(hours=1)

    def charge_while_taken_over(**kw: object) -> object:
        env.update_charge(chid, lease_expires_at=theirs)
        return real_charge(**kw)  # type: ignore[arg-type]

    env.deps.toss.charge = charge_while_taken_over  # type: ignore[method-assign]
    assert run_charge(env.deps, chid) == "BUSY"
    [attempt] = env.attempts(chid)
    assert attempt.outcome == "DONE" and attempt.finished_at == START
    charge = env.charge_row(chid)
    assert (charge.status, charge.lease_expires_at, charge.payment_key) == (
        "PROCESSING", theirs, None,
    )  # fmt: skip
