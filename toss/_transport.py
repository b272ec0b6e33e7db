"""The single HTTP path of ``TossClient``: headers, explicit timeouts, error classification.

Kept apart from the endpoint methods so the transport rules (never retry, classify where the
``requests`` exception is caught, never log a secret) can be read in one place.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, TypeVar

import requests
import urllib3
from pydantic import BaseModel, SecretStr, ValidationError
from requests.structures import CaseInsensitiveDict

from toss import _validate as v
from toss._auth import basic_auth_header
from toss._errors import TossAPIError, TossConnectionError, TossError, classify
from toss._kinds import ErrorKind

__all__ = ["Transport", "TRACE_HEADER"]

logger = logging.getLogger("toss")

#: Response header carrying Toss's request id (quote it to Toss support).
TRACE_HEADER = "X-TossPayments-Trace-Id"

M = TypeVar("M", bound=BaseModel)


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the TCP connection was never made, so no byte of the request reached Toss."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class Transport:
    """Base of ``TossClient``; subclasses set the attributes below in ``__init__``."""

    _secret_key: SecretStr
    _base_url: str
    _session: requests.Session
    _connect_timeout_seconds: float
    _read_timeout_seconds: float
    _accept_language: str | None
    #: True when the client built its session itself (nothing else configured it): requests
    #: then go straight to the session's adapter (``_send``), skipping the per-request merging
    #: of a session that has nothing to merge.
    _owns_session: bool

    def _send(
        self, method: str, url: str, body: dict[str, Any] | None, headers: dict[str, str],
        timeout: tuple[float, float],
    ) -> requests.Response:  # fmt: skip
        """One HTTP exchange. ``Session.request`` re-merges cookies, hooks, auth, proxies and
        defaults and re-parses the URL on every call: ~0.3 ms of CPU per charge measured
        (docs/benchmarks.md), on a path every charge takes. A session built by the client has
        no cookies, hooks or auth to merge and its proxies were read once at start, so the
        request is prepared here as ``Session.request`` would prepare it (same headers, same
        JSON body bytes) and handed to the session's own adapter: same pool, same timeouts,
        same proxies and TLS settings. A caller-supplied session keeps the full path."""
        session = self._session
        if not self._owns_session:
            return session.request(method, url, json=body, headers=headers, timeout=timeout)
        prepared = requests.PreparedRequest()
        prepared.method = method
        prepared.url = url
        merged: CaseInsensitiveDict[str | bytes] = CaseInsensitiveDict(session.headers)
        merged.update(headers)
        if body is not None:
            # What requests' json= sends: compact separators are not used there either.
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            merged["Content-Type"] = "application/json"
            merged["Content-Length"] = str(len(data))
            prepared.body = data
        elif method == "POST":
            merged["Content-Length"] = "0"
        prepared.headers = merged  # type: ignore[assignment]
        prepared.hooks = {"response": []}
        adapter = session.get_adapter(url)
        verify = True if session.verify is None else session.verify  # as Session.request does
        resp = adapter.send(prepared, stream=False, timeout=timeout, verify=verify,
                            cert=session.cert, proxies=session.proxies)  # fmt: skip
        resp.content  # noqa: B018 -- read the body now, as Session.send does (stream=False)
        return resp

    def _parse(self, model: type[M], data: dict[str, Any], *, method: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError:
            # A 2xx we cannot read: for a POST the operation probably happened.
            kind = ErrorKind.UNKNOWN_OUTCOME if method == "POST" else ErrorKind.TRANSIENT
            raise TossAPIError(
                f"unreadable {model.__name__} in a 2xx response", code="INVALID_RESPONSE",
                http_status=200, kind=kind,
            ) from None  # fmt: skip

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        test_code: str | None = None,
        read_timeout: float | None = None,
        log_path: str | None = None,
        log_extra: str = "",
    ) -> dict[str, Any]:
        secret = self._secret_key.get_secret_value()
        if not secret:
            raise TossError("Toss secret key is empty (set TOSS_SECRET_KEY)", kind=ErrorKind.SETUP)
        v.validate_idempotency_key(idempotency_key)
        headers = {"Authorization": basic_auth_header(secret), "Accept": "application/json"}
        if self._accept_language:
            headers["Accept-Language"] = self._accept_language
        if idempotency_key is not None and method == "POST":
            headers["Idempotency-Key"] = idempotency_key
        if test_code is not None:
            headers["TossPayments-Test-Code"] = test_code
        timeout = (self._connect_timeout_seconds, read_timeout or self._read_timeout_seconds)
        shown = log_path or path
        is_post = method == "POST"
        started = time.monotonic()
        try:
            resp = self._send(method, self._base_url + path, body, headers, timeout)
        except requests.exceptions.SSLError as exc:
            raise self._conn_error(method, shown, exc, ErrorKind.SETUP) from None
        except requests.exceptions.ConnectTimeout as exc:
            raise self._conn_error(method, shown, exc, ErrorKind.TRANSIENT) from None
        except requests.exceptions.ConnectionError as exc:
            # Refused/unresolvable: nothing was sent. A reset after connecting may have been
            # processed (the sandbox's dropResponse reproduces exactly that).
            sent = not _never_connected(exc)
            kind = ErrorKind.UNKNOWN_OUTCOME if sent and is_post else ErrorKind.TRANSIENT
            raise self._conn_error(method, shown, exc, kind) from None
        except requests.exceptions.RequestException as exc:  # ReadTimeout, chunked errors, ...
            kind = ErrorKind.UNKNOWN_OUTCOME if is_post else ErrorKind.TRANSIENT
            raise self._conn_error(method, shown, exc, kind) from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        trace_id = resp.headers.get(TRACE_HEADER)
        try:
            data = resp.json() if resp.content else {}
        except ValueError:
            data = None
        if 200 <= resp.status_code < 300 and isinstance(data, dict):
            logger.info(
                "toss call method=%s path=%s status=%d elapsed_ms=%d trace_id=%s%s",
                method, shown, resp.status_code, elapsed_ms, trace_id, log_extra,
            )  # fmt: skip
            return data
        code = data.get("code") if isinstance(data, dict) else None
        message = data.get("message") if isinstance(data, dict) else None
        kind = classify(code if isinstance(code, str) else None, resp.status_code)
        if resp.status_code < 300:  # 2xx without a JSON object: treat like a lost answer
            kind = ErrorKind.UNKNOWN_OUTCOME
        if not is_post and kind is ErrorKind.UNKNOWN_OUTCOME:
            kind = ErrorKind.TRANSIENT  # a failed read changed nothing; just ask again
        code_str = code if isinstance(code, str) and code else f"HTTP_{resp.status_code}"
        logger.warning(
            "toss error method=%s path=%s status=%d code=%s kind=%s elapsed_ms=%d trace_id=%s%s",
            method, shown, resp.status_code, code_str, kind.value, elapsed_ms, trace_id, log_extra,
        )  # fmt: skip
        raise TossAPIError(
            str(message) if message else f"HTTP {resp.status_code} without an error body",
            code=code_str, http_status=resp.status_code, kind=kind, trace_id=trace_id,
            body=data if isinstance(data, dict) else None,
        )  # fmt: skip

    def _conn_error(
        self, method: str, shown: str, exc: Exception, kind: ErrorKind
    ) -> TossConnectionError:
        # str(exc) from urllib3 includes the URL path, i.e. possibly the billing key: omit it.
        logger.warning(
            "toss transport error method=%s path=%s error=%s kind=%s",
            method, shown, type(exc).__name__, kind.value,
        )  # fmt: skip
        return TossConnectionError(
            f"{type(exc).__name__} during {method} {shown}: no usable response", kind=kind
        )
