"""``TossClient``: the synchronous boundary to Toss's billing API (facts §2–§5A).

One ``requests.Session`` with a 64-connection pool, shared by worker threads. Every request goes
through ``Transport._request`` (toss/_transport.py), which always passes explicit
``(connect, read)`` timeouts and never retries: re-sending a charge is the worker's decision,
made with a stored idempotency key (STYLE G3).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import requests
from pydantic import SecretStr
from requests.adapters import HTTPAdapter

from toss import _validate as v
from toss._auth import mask
from toss._errors import TossValidationError
from toss._models import Billing, Payment
from toss._transport import Transport

if TYPE_CHECKING:
    from types import TracebackType

    from billbeat.settings import Settings

__all__ = ["TossClient"]

#: Connections kept per host: enough for one worker process's thread pool to share a client.
POOL_MAXSIZE = 64


def _seg(value: str) -> str:
    # Billing keys contain '=', '-', '_' (and may contain '/', '+'): encode everything.
    return quote(value, safe="")


class TossClient(Transport):
    """Client for Toss billing. Thread-safe; build one per process and share it.

    Timeouts are in seconds. ``charge`` uses ``charge_read_timeout_seconds`` (Toss: ≥ 60 s).
    All methods raise ``TossError`` subclasses only; read ``exc.kind`` to decide what next.
    """

    def __init__(
        self,
        *,
        base_url: str,
        secret_key: str | SecretStr,
        connect_timeout_seconds: float = 5.0,
        read_timeout_seconds: float = 30.0,
        charge_read_timeout_seconds: float = 60.0,
        session: requests.Session | None = None,
        accept_language: str | None = None,
    ) -> None:
        raw = secret_key.get_secret_value() if isinstance(secret_key, SecretStr) else secret_key
        self._secret_key = SecretStr(raw)
        self._base_url = base_url.rstrip("/")
        self._connect_timeout_seconds = connect_timeout_seconds
        self._read_timeout_seconds = read_timeout_seconds
        self._charge_read_timeout_seconds = charge_read_timeout_seconds
        self._accept_language = accept_language
        self._owns_session = session is None
        if session is None:
            session = requests.Session()
            # max_retries=0: urllib3 must not silently re-send a POST that may have charged.
            adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_MAXSIZE, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            _read_environment_once(session, self._base_url)
        self._session = session

    @classmethod
    def from_settings(cls, settings: Settings) -> TossClient:
        """Build a client from billbeat's ``Settings`` (toss_* fields)."""
        return cls(
            base_url=settings.toss_api_base,
            secret_key=settings.toss_secret_key,
            connect_timeout_seconds=settings.toss_connect_timeout_seconds,
            read_timeout_seconds=settings.toss_read_timeout_seconds,
            charge_read_timeout_seconds=settings.toss_charge_read_timeout_seconds,
        )

    def __repr__(self) -> str:
        return f"TossClient(base_url={self._base_url!r}, secret_key='{self._masked_secret()}')"

    def _masked_secret(self) -> str:
        key = self._secret_key.get_secret_value()
        prefix = next((p for p in ("test_sk_", "live_sk_", "test_gsk_", "live_gsk_")
                       if key.startswith(p)), "")  # fmt: skip
        return prefix + "***" if key else ""

    # ---- billing keys -------------------------------------------------------------------

    def issue_billing_key_with_card(
        self,
        *,
        customer_key: str,
        card_number: str,
        expiration_year: str,
        expiration_month: str,
        identity_number: str,
        card_password: str | None = None,
        customer_name: str | None = None,
        customer_email: str | None = None,
        idempotency_key: str | None = None,
        test_code: str | None = None,
    ) -> Billing:
        """Issue a billing key from raw card data (POST /v1/billing/authorizations/card).

        Moves no money. Raises TossValidationError before sending on malformed input.
        """
        body: dict[str, Any] = {
            "customerKey": v.validate_customer_key(customer_key),
            "cardNumber": v.validate_card_number(card_number),
            "cardExpirationYear": v.validate_optional_text(
                "expiration_year", expiration_year, max_chars=2
            ),
            "cardExpirationMonth": v.validate_optional_text(
                "expiration_month", expiration_month, max_chars=2
            ),
            "customerIdentityNumber": v.validate_optional_text(
                "identity_number", identity_number, max_chars=10
            ),
        }
        optional = {
            "cardPassword": v.validate_optional_text("card_password", card_password, max_chars=2),
            "customerName": v.validate_optional_text("customer_name", customer_name, max_chars=100),
            "customerEmail": v.validate_optional_text(
                "customer_email", customer_email, max_chars=100
            ),
        }
        body.update({k: val for k, val in optional.items() if val is not None})
        data = self._request(
            "POST", "/v1/billing/authorizations/card", body=body,
            idempotency_key=idempotency_key, test_code=test_code,
        )  # fmt: skip
        return self._parse(Billing, data, method="POST")

    def issue_billing_key_with_auth_key(
        self,
        *,
        auth_key: str,
        customer_key: str,
        idempotency_key: str | None = None,
        test_code: str | None = None,
    ) -> Billing:
        """Exchange the SDK redirect's one-time ``auth_key`` for a billing key (…/issue)."""
        body = {
            "authKey": v.validate_optional_text("auth_key", auth_key, max_chars=300),
            "customerKey": v.validate_customer_key(customer_key),
        }
        data = self._request(
            "POST", "/v1/billing/authorizations/issue", body=body,
            idempotency_key=idempotency_key, test_code=test_code,
        )  # fmt: skip
        return self._parse(Billing, data, method="POST")

    # ---- payments -----------------------------------------------------------------------

    def charge(
        self,
        *,
        billing_key: str,
        customer_key: str,
        amount: int,
        order_id: str,
        order_name: str,
        tax_free_amount: int = 0,
        customer_email: str | None = None,
        customer_name: str | None = None,
        idempotency_key: str | None = None,
        test_code: str | None = None,
    ) -> Payment:
        """Charge ``amount`` KRW to a billing key (POST /v1/billing/{billingKey}). Never retried.

        Send a stored, per-attempt ``idempotency_key``: after a TossConnectionError with kind
        UNKNOWN_OUTCOME, look up ``order_id`` or re-send with the same key. Raises TossAPIError
        for declines (SOFT/HARD_DECLINE) and unknown outcomes (5xx, DUPLICATED_ORDER_ID, ...).
        """
        if not isinstance(billing_key, str) or not billing_key:
            raise TossValidationError("billing_key", "must be a non-empty string")
        body: dict[str, Any] = {
            "customerKey": v.validate_customer_key(customer_key),
            "amount": v.validate_amount(amount),
            "orderId": v.validate_order_id(order_id),
            "orderName": v.validate_order_name(order_name),
            "taxFreeAmount": v.validate_non_negative_amount(
                tax_free_amount, field="tax_free_amount"
            ),
        }
        optional = {
            "customerEmail": v.validate_optional_text(
                "customer_email", customer_email, max_chars=100
            ),
            "customerName": v.validate_optional_text("customer_name", customer_name, max_chars=100),
        }
        body.update({k: val for k, val in optional.items() if val is not None})
        data = self._request(
            "POST", f"/v1/billing/{_seg(billing_key)}", body=body,
            log_path=f"/v1/billing/{mask(billing_key)}", idempotency_key=idempotency_key,
            test_code=test_code, read_timeout=self._charge_read_timeout_seconds,
            log_extra=f" order_id={order_id} amount={amount}",
        )  # fmt: skip
        return self._parse(Payment, data, method="POST")

    def get_payment(self, payment_key: str) -> Payment:
        """Look a payment up by paymentKey. Unknown key -> TossAPIError code NOT_FOUND_PAYMENT."""
        v.validate_optional_text("payment_key", payment_key, max_chars=200)
        data = self._request("GET", f"/v1/payments/{_seg(payment_key)}")
        return self._parse(Payment, data, method="GET")

    def get_payment_by_order_id(self, order_id: str) -> Payment:
        """Look a payment up by orderId — the reconciliation call after an unknown outcome.

        404 NOT_FOUND_PAYMENT (TossAPIError, check ``.code``) means no charge was recorded.
        """
        v.validate_order_id(order_id)
        data = self._request("GET", f"/v1/payments/orders/{_seg(order_id)}")
        return self._parse(Payment, data, method="GET")

    def cancel_payment(
        self,
        payment_key: str,
        *,
        cancel_reason: str,
        cancel_amount: int | None = None,
        idempotency_key: str | None = None,
    ) -> Payment:
        """Refund all (``cancel_amount`` None) or part of a payment; pass an idempotency key."""
        v.validate_optional_text("payment_key", payment_key, max_chars=200)
        body: dict[str, Any] = {
            "cancelReason": v.validate_optional_text("cancel_reason", cancel_reason, max_chars=200)
        }
        if cancel_amount is not None:
            body["cancelAmount"] = v.validate_amount(cancel_amount, field="cancel_amount")
        data = self._request(
            "POST", f"/v1/payments/{_seg(payment_key)}/cancel", body=body,
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return self._parse(Payment, data, method="POST")

    # ---- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP pool (only if this client created the session)."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> TossClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # ---- transport ----------------------------------------------------------------------


def _read_environment_once(session: requests.Session, base_url: str) -> None:
    """Proxy and CA-bundle settings from the environment, read here instead of per request.

    requests' ``trust_env`` re-reads the proxy variables (and scans the whole environment) on
    every request: 0.45 ms of CPU per charge measured here. A merchant behind an egress proxy
    still gets it (HTTPS_PROXY / NO_PROXY as at start-up; a change needs a worker restart).
    """
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
