# ruff: noqa: E501  -- a table of messages reads better one row per code than wrapped.
"""The Toss error-code catalogue: one row per code, shared by the client and the sandbox.

Source: /work/shared/toss-billing-api.md §1, §6.2–§6.4, §7, §9. Each row gives the HTTP status
Toss answers with, the ``ErrorKind`` the worker acts on, and a Korean and an English message
(the sandbox's wording, modelled on Toss's; callers must branch on the code, never the message).

Classification choices that are ours (the facts file gives a hint, not a rule):

- §6.3's "rule of thumb" group (5xx, PROVIDER_ERROR, CARD_PROCESSING_ERROR,
  IDEMPOTENT_REQUEST_PROCESSING, ALREADY_PROCESSED_PAYMENT, DUPLICATED_ORDER_ID) is
  UNKNOWN_OUTCOME: a charge may exist, so the worker must look the orderId up first.
- INVALID_REJECT_CARD / REJECT_CARD_COMPANY are SOFT: "contact your issuer" can clear, and a
  dunning attempt days later is cheap; a wrong HARD would drop a customer who could still pay.
- FAILED_BILL_KEY_AUTH_CREATION is TRANSIENT despite being a 5xx: it only occurs at issuance,
  which moves no money, and Toss calls it temporary.
- NOT_FOUND_BILLING is HARD: on a charge it means the key is unknown (or deleted) — re-register.
"""

from __future__ import annotations

from dataclasses import dataclass

from toss._kinds import ErrorKind

__all__ = ["CodeInfo", "CATALOGUE", "DAILY_LIMIT_CODES", "lookup"]

_S, _H, _T, _U, _C, _I = (
    ErrorKind.SOFT_DECLINE,
    ErrorKind.HARD_DECLINE,
    ErrorKind.TRANSIENT,
    ErrorKind.UNKNOWN_OUTCOME,
    ErrorKind.SETUP,
    ErrorKind.INVALID_REQUEST,
)


@dataclass(frozen=True)
class CodeInfo:
    """One catalogue row."""

    code: str
    http_status: int
    kind: ErrorKind
    message_ko: str
    message_en: str


#: Soft declines that will fail again until the card's daily counters reset (retry tomorrow).
DAILY_LIMIT_CODES = frozenset(
    {"EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_PAYMENT_AMOUNT", "EXCEED_MAX_ONE_DAY_AMOUNT"}
)

_ROWS: list[tuple[str, int, ErrorKind, str, str]] = [
    # --- authentication / configuration (§1): no card was touched, retries fail identically
    ("UNAUTHORIZED_KEY", 401, _C, "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.",
     "Unauthorized secret key or client key."),
    ("INVALID_API_KEY", 400, _C, "잘못된 시크릿키 연동 정보 입니다.",
     "Incorrect secret key integration information."),
    ("INCORRECT_BASIC_AUTH_FORMAT", 403, _C, "잘못된 요청입니다. ':' 를 포함해 인코딩해주세요.",
     "Incorrect request. Please encode including ':'."),
    ("NOT_SUPPORTED_METHOD", 400, _C, "지원되지 않는 결제수단입니다.",
     "Payment method not supported."),
    ("FORBIDDEN_REQUEST", 403, _C, "허용되지 않은 요청입니다.", "Request not allowed."),
    # --- our own request is wrong (fix the code or the input)
    ("INVALID_REQUEST", 400, _I, "잘못된 요청입니다.", "Invalid request."),
    ("INVALID_ORDER_ID", 400, _I,
     "주문번호는 영문 대소문자, 숫자, 특수문자(-, _)만 허용하며 6자 이상 64자 이하여야 합니다.",
     "orderId must be 6-64 characters of letters, digits, '-' and '_'."),
    ("INVALID_ORDER_NAME", 400, _I, "주문명은 100자 이하여야 합니다.",
     "orderName must be 1-100 characters."),
    ("INVALID_CUSTOMER_KEY", 400, _I,
     "고객 키는 영문 대소문자, 숫자, 특수문자(-, _, =, ., @)로 2자 이상 300자 이하여야 합니다.",
     "customerKey must be 2-300 characters of letters, digits, '-', '_', '=', '.', '@'."),
    ("INVALID_EMAIL", 400, _I, "유효하지 않은 이메일 주소 형식입니다.", "Invalid email format."),
    ("INVALID_BIRTH_DAY_FORMAT", 400, _I,
     "생년월일 정보는 6자리의 yyMMdd 형식이어야 합니다. 사업자등록번호는 10자리의 숫자여야 합니다.",
     "Birth date must be 6 digits (yyMMdd); a business registration number must be 10 digits."),
    ("BELOW_MINIMUM_AMOUNT", 400, _I, "신용카드는 결제금액이 100원 이상이어야 합니다.",
     "Card payments must be at least 100 KRW."),
    ("BELOW_ZERO_AMOUNT", 400, _I, "금액은 0보다 커야 합니다.", "Amount must be greater than 0."),
    ("INVALID_IDEMPOTENCY_KEY", 400, _I, "멱등키는 300자 이하여야 합니다.",
     "Idempotency key must be at most 300 characters."),
    ("INVALID_TEST_CODE", 400, _I, "유효하지 않은 테스트 코드입니다.", "Invalid test code."),
    ("INVALID_CARD_INSTALLMENT_PLAN", 400, _I, "할부 개월 정보가 잘못되었습니다.",
     "Invalid installment plan."),
    ("NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", 400, _I,
     "할부가 지원되지 않는 카드 또는 가맹점 입니다.",
     "Installments are not supported for this card or merchant."),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", 400, _I, "할부가 지원되지 않는 카드입니다.",
     "This card does not support installments."),
    ("NOT_FOUND_PAYMENT", 404, _I, "존재하지 않는 결제 정보 입니다.", "Payment not found."),
    ("NOT_FOUND", 404, _I, "존재하지 않는 정보 입니다.", "Not found."),
    # cancel-side request problems: nothing was refunded; the caller decides from the code
    ("ALREADY_CANCELED_PAYMENT", 400, _I, "이미 취소된 결제 입니다.", "Payment already canceled."),
    ("ALREADY_REFUND_PAYMENT", 400, _I, "이미 환불된 결제입니다.", "Payment already refunded."),
    ("NOT_MATCHES_REFUNDABLE_AMOUNT", 400, _I, "잔액 결과가 일치하지 않습니다.",
     "Refundable amount does not match."),
    ("INVALID_REFUND_ACCOUNT_INFO", 400, _I, "환불 계좌번호와 예금주명이 일치하지 않습니다.",
     "Refund account does not match the holder."),
    ("INVALID_REFUND_ACCOUNT_NUMBER", 400, _I, "잘못된 환불 계좌번호입니다.",
     "Invalid refund account number."),
    ("INVALID_BANK", 400, _I, "유효하지 않은 은행입니다.", "Invalid bank."),
    ("EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT", 400, _I, "즉시할인금액보다 적은 금액은 부분취소가 불가능합니다.",
     "Cannot partially cancel less than the instant discount."),
    ("NOT_CANCELABLE_AMOUNT", 403, _I, "취소 할 수 없는 금액 입니다.", "Amount cannot be canceled."),
    ("NOT_CANCELABLE_PAYMENT", 403, _I, "취소 할 수 없는 결제 입니다.", "Payment cannot be canceled."),
    ("NOT_ALLOWED_PARTIAL_REFUND", 403, _I, "에스크로 주문, 현금 카드 결제일 때는 부분 환불이 불가합니다.",
     "Partial refund is not allowed for this payment."),
    ("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT", 403, _I, "입금 대기중인 결제는 부분 환불이 불가합니다.",
     "Partial refund is not allowed while waiting for deposit."),
    # --- the card needs replacing (or the holder must act with the issuer)
    ("INVALID_CARD_NUMBER", 400, _H, "카드번호를 다시 확인해주세요.", "Please check the card number."),
    ("INVALID_CARD_EXPIRATION", 400, _H, "카드 정보를 다시 확인해주세요. (유효기간)",
     "Please check the card expiration date."),
    ("INVALID_STOPPED_CARD", 400, _H, "정지된 카드 입니다.", "This card is suspended."),
    ("INVALID_CARD_LOST_OR_STOLEN", 400, _H, "분실 혹은 도난 카드입니다.", "Lost or stolen card."),
    ("INVALID_CARD_PASSWORD", 400, _H, "카드 정보를 다시 확인해주세요. (비밀번호)",
     "Please check the card password."),
    ("INVALID_CARD_IDENTITY", 400, _H, "입력하신 주민번호/사업자번호가 카드 소유주 정보와 일치하지 않습니다.",
     "Identity number does not match the cardholder."),
    ("INVALID_BILL_KEY_REQUEST", 400, _H, "빌링키 인증이 완료되지 않았거나 유효하지 않은 빌링 거래 건입니다.",
     "Billing key not authorized or invalid billing transaction."),
    ("INVALID_BILLING_AUTH", 400, _H, "유효하지 않은 빌링 인증입니다.", "Invalid billing authentication."),
    ("NOT_SUPPORTED_CARD_TYPE", 400, _H, "지원되지 않는 카드 종류입니다.", "Card type not supported."),
    ("NOT_MATCHES_CUSTOMER_KEY", 400, _H, "빌링 인증 고객키와 결제 요청 고객키가 일치하지 않습니다.",
     "customerKey does not match the one the billing key was issued with."),
    ("NOT_REGISTERED_CARD_COMPANY", 400, _H, "카드를 사용 등록 후 이용해주세요.",
     "Please register the card with the issuer first."),
    ("NOT_FOUND_BILLING", 404, _H, "존재하지 않는 빌링 인증 입니다.",
     "Billing authentication not found."),
    ("EXCEED_MAX_AUTH_COUNT", 403, _H, "최대 인증 횟수를 초과했습니다. 카드사로 문의해주세요.",
     "Maximum authentication attempts exceeded. Contact the card company."),
    ("FDS_ERROR", 403, _H, "[토스페이먼츠] 위험거래가 감지되어 결제가 제한됩니다.",
     "Payment restricted: risky transaction detected."),
    ("REFUND_REJECTED", 400, _H, "환불이 거절됐습니다.", "Refund rejected."),
    ("FORBIDDEN_BANK_REFUND_REQUEST", 400, _H, "고객 계좌가 입금이 되지 않는 상태입니다.",
     "The customer's account cannot receive deposits."),
    ("EXCEED_MAX_REFUND_DUE", 403, _H, "환불 가능한 기간이 지났습니다.", "Refund period has passed."),
    ("EXCEED_CANCEL_LIMIT", 403, _H, "취소 한도를 초과했습니다.", "Cancel limit exceeded."),
    ("NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER", 403, _H, "휴면 처리된 회원의 결제는 취소할 수 없습니다.",
     "Payments of dormant users cannot be canceled."),
    # --- this attempt was refused; a later (dunning) attempt may pass
    ("REJECT_CARD_PAYMENT", 403, _S, "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
     "Payment failed: limit exceeded or insufficient balance."),
    ("REJECT_ACCOUNT_PAYMENT", 403, _S, "잔액부족으로 결제에 실패했습니다.",
     "Payment failed: insufficient balance."),
    ("REJECT_CARD_COMPANY", 403, _S, "결제 승인이 거절되었습니다.", "Payment approval was rejected."),
    ("INVALID_REJECT_CARD", 400, _S, "카드 사용이 거절되었습니다. 카드사 문의가 필요합니다.",
     "Card use rejected. Please contact the card company."),
    ("EXCEED_MAX_DAILY_PAYMENT_COUNT", 400, _S, "하루 결제 가능 횟수를 초과했습니다.",
     "Daily payment count exceeded."),
    ("EXCEED_MAX_PAYMENT_AMOUNT", 400, _S, "하루 결제 가능 금액을 초과했습니다.",
     "Daily payable amount exceeded."),
    ("EXCEED_MAX_ONE_DAY_AMOUNT", 403, _S, "일일 한도를 초과했습니다.", "Daily limit exceeded."),
    ("EXCEED_MAX_AMOUNT", 400, _S, "거래금액 한도를 초과했습니다.", "Transaction amount limit exceeded."),
    # --- nothing was done; re-send the same attempt soon
    ("FORBIDDEN_CONSECUTIVE_REQUEST", 403, _T, "반복적인 요청은 허용되지 않습니다. 잠시 후 다시 시도해주세요.",
     "Repeated requests are not allowed. Please try again later."),
    ("NOT_AVAILABLE_PAYMENT", 400, _T, "결제가 불가능한 시간대입니다.",
     "Payments are not available at this time."),
    ("MAINTAINED_METHOD", 400, _T, "결제수단 점검 중입니다.", "Payment method under maintenance."),
    ("NOT_AVAILABLE_BANK", 403, _T, "은행 서비스 시간이 아닙니다.", "Bank service is not available now."),
    ("FAILED_BILL_KEY_AUTH_CREATION", 500, _T, "빌링키 인증 생성에 실패했습니다. 잠시 후 다시 시도해주세요.",
     "Failed to create billing authentication. Please try again later."),
    # --- a charge (or refund) may exist: look the orderId up before deciding
    ("DUPLICATED_ORDER_ID", 400, _U, "이미 승인 및 취소가 진행된 중복된 주문번호 입니다.",
     "This orderId was already approved or canceled."),
    ("ALREADY_PROCESSED_PAYMENT", 400, _U, "이미 처리된 결제 입니다.", "Payment already processed."),
    ("PROVIDER_ERROR", 400, _U, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
     "A temporary error occurred. Please try again later."),
    ("CARD_PROCESSING_ERROR", 400, _U, "카드사에서 오류가 발생했습니다.",
     "An error occurred at the card company."),
    ("IDEMPOTENT_REQUEST_PROCESSING", 409, _U, "이전 멱등 요청이 처리 중입니다. 잠시 후 다시 시도해주세요.",
     "The previous idempotent request is still processing. Send it again later."),
    ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500, _U, "내부 시스템 처리 작업이 실패했습니다. 잠시 후 다시 시도해주세요.",
     "Internal system processing failed. Please try again later."),
    ("FAILED_DB_PROCESSING", 500, _U, "잘못된 요청 값으로 처리 중 DB 에러가 발생했습니다.",
     "A database error occurred due to an invalid request value."),
    ("FAILED_CARD_COMPANY_RESPONSE", 500, _U, "카드사에서 에러가 발생했습니다. 잠시 후 다시 시도해주세요.",
     "An error occurred at the card company. Please try again later."),
    ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500, _U, "결제가 완료되지 않았어요. 다시 시도해주세요.",
     "The payment was not completed. Please try again."),
    ("UNKNOWN_PAYMENT_ERROR", 500, _U, "결제에 실패했어요. 같은 문제가 반복된다면 은행이나 카드사로 문의해주세요.",
     "Payment failed. If it repeats, contact your bank or card company."),
    ("COMMON_ERROR", 500, _U, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.",
     "A temporary error occurred. Please try again later."),
    ("UNKNOWN_ERROR", 500, _U, "알 수 없는 에러가 발생했습니다. 잠시 후 다시 시도해주세요.",
     "An unknown error occurred. Please try again later."),
    ("FAILED_BILLING_AUTO_CANCEL", 500, _U, "자동결제 자동 취소 중 일시적인 오류가 발생했습니다.",
     "A temporary error occurred while auto-canceling a billing payment."),
    ("FAILED_METHOD_HANDLING", 500, _U, "결제수단 처리 중 일시적인 오류가 발생했습니다.",
     "A temporary error occurred while handling the payment method."),
    ("FAILED_REFUND_PROCESS", 500, _U, "은행 응답시간 지연이나 일시적인 오류로 환불요청에 실패했습니다.",
     "Refund failed due to a bank delay or temporary error."),
    ("FAILED_METHOD_HANDLING_CANCEL", 500, _U, "취소 중 결제 시 사용한 결제 수단 처리과정에서 일시적인 에러가 발생했습니다.",
     "A temporary error occurred handling the payment method during cancel."),
    ("FAILED_PARTIAL_REFUND", 500, _U, "은행 점검, 해약 계좌 등의 사유로 부분 환불이 실패했습니다.",
     "Partial refund failed (bank maintenance, closed account, ...)."),
]  # fmt: skip

#: code -> row. Every code the sandbox can answer with and the client knows by name.
CATALOGUE: dict[str, CodeInfo] = {row[0]: CodeInfo(*row) for row in _ROWS}


def lookup(code: str | None) -> CodeInfo | None:
    """The catalogue row for ``code``, or None for an unknown/absent code."""
    return CATALOGUE.get(code) if code else None
