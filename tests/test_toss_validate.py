"""Client-side validation: refused before sending, one-line messages, no card data echoed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toss import (
    ErrorKind,
    TossClient,
    TossValidationError,
    validate_amount,
    validate_customer_key,
    validate_order_id,
    validate_order_name,
)

# Nothing listens here: a request that got sent would fail with TossConnectionError instead.
NOWHERE = "http://127.0.0.1:9"
ORDER_CHARS = st.sampled_from("abcXYZ019-_")


@given(st.text(ORDER_CHARS, min_size=6, max_size=64))
def test_valid_order_ids_pass(value: str) -> None:
    assert validate_order_id(value) == value


@given(st.text(min_size=0, max_size=80))
def test_order_id_rule_matches_regex(value: str) -> None:
    ok = 6 <= len(value) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)
    if ok:
        assert validate_order_id(value) == value
    else:
        with pytest.raises(TossValidationError) as exc:
            validate_order_id(value)
        assert exc.value.field == "order_id" and "\n" not in str(exc.value).split("(got")[0]


@given(st.text(st.sampled_from("aZ9-_=.@"), min_size=2, max_size=300))
def test_valid_customer_keys_pass(value: str) -> None:
    assert validate_customer_key(value) == value


@pytest.mark.parametrize("value", ["a", "x" * 301, "has space", "한글키", "a/b"])
def test_bad_customer_keys(value: str) -> None:
    with pytest.raises(TossValidationError, match="customer_key"):
        validate_customer_key(value)


@pytest.mark.parametrize("value", [True, 1.0, "100", 0, -5, None])
def test_bad_amounts(value: object) -> None:
    with pytest.raises(TossValidationError) as exc:
        validate_amount(value)  # type: ignore[arg-type]
    assert exc.value.kind is ErrorKind.INVALID_REQUEST and isinstance(exc.value, ValueError)


def test_order_name_bounds() -> None:
    assert validate_order_name("x" * 100)
    for bad in ("", "x" * 101):
        with pytest.raises(TossValidationError, match="order_name"):
            validate_order_name(bad)


def test_client_refuses_before_sending_and_hides_card_number() -> None:
    client = TossClient(base_url=NOWHERE, secret_key="test_sk_x")
    with pytest.raises(TossValidationError) as exc:
        client.issue_billing_key_with_card(
            customer_key="cust-1", card_number="4330-1234-1234-1234", expiration_year="39",
            expiration_month="12", identity_number="900101",
        )  # fmt: skip
    assert exc.value.field == "card_number" and "1234" not in str(exc.value)
    with pytest.raises(TossValidationError, match="idempotency_key"):
        client.charge(billing_key="bk", customer_key="cust-1", amount=100, order_id="order-1",
                      order_name="x", idempotency_key="k" * 301)  # fmt: skip
    with pytest.raises(TossValidationError, match="amount"):
        client.charge(billing_key="bk", customer_key="cust-1", amount=99.5,  # type: ignore[arg-type]
                      order_id="order-1", order_name="x")  # fmt: skip
