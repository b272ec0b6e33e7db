"""classify() and the error-code catalogue: every code has a kind; the important ones pinned."""

from __future__ import annotations

import pytest

from toss import (
    CATALOGUE,
    DAILY_LIMIT_CODES,
    ErrorKind,
    TossAPIError,
    TossConnectionError,
    TossError,
    TossValidationError,
    classify,
)

EXPECTED = {
    # facts §6.3 rule of thumb: a charge may exist
    "FAILED_INTERNAL_SYSTEM_PROCESSING": ErrorKind.UNKNOWN_OUTCOME,
    "COMMON_ERROR": ErrorKind.UNKNOWN_OUTCOME,
    "PROVIDER_ERROR": ErrorKind.UNKNOWN_OUTCOME,
    "CARD_PROCESSING_ERROR": ErrorKind.UNKNOWN_OUTCOME,
    "IDEMPOTENT_REQUEST_PROCESSING": ErrorKind.UNKNOWN_OUTCOME,
    "ALREADY_PROCESSED_PAYMENT": ErrorKind.UNKNOWN_OUTCOME,
    "DUPLICATED_ORDER_ID": ErrorKind.UNKNOWN_OUTCOME,
    "FAILED_CARD_COMPANY_RESPONSE": ErrorKind.UNKNOWN_OUTCOME,
    # setup
    "UNAUTHORIZED_KEY": ErrorKind.SETUP,
    "INVALID_API_KEY": ErrorKind.SETUP,
    "INCORRECT_BASIC_AUTH_FORMAT": ErrorKind.SETUP,
    "NOT_SUPPORTED_METHOD": ErrorKind.SETUP,
    "FORBIDDEN_REQUEST": ErrorKind.SETUP,
    # our bugs
    "INVALID_REQUEST": ErrorKind.INVALID_REQUEST,
    "INVALID_ORDER_ID": ErrorKind.INVALID_REQUEST,
    "INVALID_CUSTOMER_KEY": ErrorKind.INVALID_REQUEST,
    "BELOW_MINIMUM_AMOUNT": ErrorKind.INVALID_REQUEST,
    "INVALID_IDEMPOTENCY_KEY": ErrorKind.INVALID_REQUEST,
    "INVALID_TEST_CODE": ErrorKind.INVALID_REQUEST,
    "NOT_FOUND_PAYMENT": ErrorKind.INVALID_REQUEST,
    # new card needed
    "INVALID_STOPPED_CARD": ErrorKind.HARD_DECLINE,
    "INVALID_CARD_EXPIRATION": ErrorKind.HARD_DECLINE,
    "INVALID_CARD_LOST_OR_STOLEN": ErrorKind.HARD_DECLINE,
    "NOT_MATCHES_CUSTOMER_KEY": ErrorKind.HARD_DECLINE,
    "INVALID_BILL_KEY_REQUEST": ErrorKind.HARD_DECLINE,
    "EXCEED_MAX_AUTH_COUNT": ErrorKind.HARD_DECLINE,
    "FDS_ERROR": ErrorKind.HARD_DECLINE,
    "NOT_FOUND_BILLING": ErrorKind.HARD_DECLINE,
    # dunning
    "REJECT_CARD_PAYMENT": ErrorKind.SOFT_DECLINE,
    "REJECT_CARD_COMPANY": ErrorKind.SOFT_DECLINE,
    "INVALID_REJECT_CARD": ErrorKind.SOFT_DECLINE,
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": ErrorKind.SOFT_DECLINE,
    "EXCEED_MAX_AMOUNT": ErrorKind.SOFT_DECLINE,
    # nothing done, retry soon
    "FORBIDDEN_CONSECUTIVE_REQUEST": ErrorKind.TRANSIENT,
    "NOT_AVAILABLE_PAYMENT": ErrorKind.TRANSIENT,
    "MAINTAINED_METHOD": ErrorKind.TRANSIENT,
}


@pytest.mark.parametrize(("code", "kind"), sorted(EXPECTED.items()))
def test_important_codes(code: str, kind: ErrorKind) -> None:
    assert classify(code, CATALOGUE[code].http_status) is kind


def test_every_catalogue_code_is_classified_with_a_valid_row() -> None:
    assert len(CATALOGUE) >= 70
    for code, info in CATALOGUE.items():
        assert info.code == code
        assert isinstance(classify(code, info.http_status), ErrorKind)
        assert info.http_status in {400, 401, 403, 404, 409, 429, 500}
        assert info.message_ko and info.message_en


def test_every_5xx_is_unknown_except_issuance_only_code() -> None:
    for code, info in CATALOGUE.items():
        if info.http_status >= 500 and code != "FAILED_BILL_KEY_AUTH_CREATION":
            assert info.kind is ErrorKind.UNKNOWN_OUTCOME, code
    assert CATALOGUE["FAILED_BILL_KEY_AUTH_CREATION"].kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, ErrorKind.UNKNOWN_OUTCOME),
        (502, ErrorKind.UNKNOWN_OUTCOME),
        (401, ErrorKind.SETUP),
        (409, ErrorKind.UNKNOWN_OUTCOME),
        (429, ErrorKind.TRANSIENT),
        (400, ErrorKind.UNKNOWN_OUTCOME),
        (403, ErrorKind.UNKNOWN_OUTCOME),
        (404, ErrorKind.INVALID_REQUEST),
    ],
)
def test_unknown_codes_fall_back_by_status(status: int, kind: ErrorKind) -> None:
    assert classify("SOMETHING_TOSS_ADDED_LATER", status) is kind
    assert classify(None, status) is kind


def test_daily_limit_codes_ask_to_wait_a_day() -> None:
    for code in DAILY_LIMIT_CODES:
        err = TossAPIError("m", code=code, http_status=400, kind=classify(code, 400))
        assert err.retry_not_before_next_day and err.kind is ErrorKind.SOFT_DECLINE
        assert not err.retryable
    other = TossAPIError(
        "m", code="REJECT_CARD_PAYMENT", http_status=403, kind=ErrorKind.SOFT_DECLINE
    )
    assert not other.retry_not_before_next_day


def test_retryable_means_transient_only() -> None:
    for kind in ErrorKind:
        assert TossError("x", kind=kind).retryable is (kind is ErrorKind.TRANSIENT)
        assert TossConnectionError("x", kind=kind).retryable is (kind is ErrorKind.TRANSIENT)
    assert ErrorKind.SOFT_DECLINE.value == "SOFT_DECLINE"


def test_error_family_shapes() -> None:
    api = TossAPIError("한도초과", code="REJECT_CARD_PAYMENT", http_status=403,
                       kind=ErrorKind.SOFT_DECLINE, trace_id="t1", body={"code": "X"})  # fmt: skip
    assert str(api) == "REJECT_CARD_PAYMENT (HTTP 403): 한도초과"
    assert "REJECT_CARD_PAYMENT" in repr(api) and api.request_id == "t1"
    val = TossValidationError("order_id", "too short")
    assert isinstance(val, ValueError) and isinstance(val, TossError)
    assert val.kind is ErrorKind.INVALID_REQUEST and val.field == "order_id"
    assert str(val) == "order_id: too short"
