"""Everything ``toss`` raises, and the one status/code -> ``ErrorKind`` mapping.

Tree::

    TossError (kind, retryable, retry_not_before_next_day)
    ├── TossAPIError          Toss answered with an error (code, message, http_status, trace_id)
    ├── TossConnectionError   no usable answer (timeout, reset, refused, TLS)
    └── TossValidationError   refused before sending (a ValueError too); kind INVALID_REQUEST

A ``TossError`` raised directly (kind SETUP) means the client itself is misconfigured
(e.g. an empty secret key). Messages never carry a card number, billing key or secret.
"""

from __future__ import annotations

from typing import Any

from toss._codes import DAILY_LIMIT_CODES, lookup
from toss._kinds import ErrorKind

__all__ = [
    "TossError",
    "TossAPIError",
    "TossConnectionError",
    "TossValidationError",
    "classify",
]


def classify(code: str | None, http_status: int) -> ErrorKind:
    """Map a Toss error ``code`` (or None) and HTTP status to the action class.

    Known codes use the catalogue (toss/_codes.py). Unknown codes fall back by status, choosing
    the reading that can never double-charge or silently drop a paying customer (facts §10.8:
    "keep unknown codes as unknown rather than guessing declined"):

    - 5xx, 409 and other unknown 4xx -> UNKNOWN_OUTCOME (reconcile by orderId; a 404 there
      makes it safe to resend, so the cost of this caution is one lookup);
    - 401 -> SETUP (bad key: no charge happened and retries fail the same way);
    - 429 -> TRANSIENT (rate limited before processing);
    - 404 -> INVALID_REQUEST (the addressed resource does not exist; nothing was processed).
    """
    info = lookup(code)
    if info is not None:
        return info.kind
    if http_status == 401:
        return ErrorKind.SETUP
    if http_status == 429:
        return ErrorKind.TRANSIENT
    if http_status == 404:
        return ErrorKind.INVALID_REQUEST
    return ErrorKind.UNKNOWN_OUTCOME


class TossError(Exception):
    """Root of everything ``toss`` raises. Read ``kind`` to decide what to do next."""

    def __init__(self, message: str, *, kind: ErrorKind) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind

    @property
    def retryable(self) -> bool:
        """True only when the same attempt may be re-sent soon with the same idempotency key."""
        return self.kind is ErrorKind.TRANSIENT

    @property
    def retry_not_before_next_day(self) -> bool:
        """True for daily-limit soft declines: another attempt today fails the same way."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind.value}, message={self.message!r})"


class TossAPIError(TossError):
    """Toss answered with an error body ``{"code", "message"}`` (or an unparseable one).

    ``code`` is Toss's code, or ``HTTP_<status>`` when the body carried none (e.g. an HTML 502
    from a proxy). ``trace_id`` is the ``X-TossPayments-Trace-Id`` header: quote it to support.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        http_status: int,
        kind: ErrorKind,
        trace_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, kind=kind)
        self.code = code
        self.http_status = http_status
        self.trace_id = trace_id
        self.body: dict[str, Any] = body or {}

    @property
    def request_id(self) -> str | None:
        """Alias of ``trace_id`` (STYLE G1 names it request_id)."""
        return self.trace_id

    @property
    def retry_not_before_next_day(self) -> bool:
        return self.code in DAILY_LIMIT_CODES

    def __str__(self) -> str:
        return f"{self.code} (HTTP {self.http_status}): {self.message}"

    def __repr__(self) -> str:
        return (
            f"TossAPIError(code={self.code!r}, http_status={self.http_status}, "
            f"kind={self.kind.value}, trace_id={self.trace_id!r})"
        )


class TossConnectionError(TossError):
    """No usable response. ``kind`` says whether the request could have reached Toss:

    TRANSIENT when it cannot have (connect refused/timeout) or the call was a read-only GET,
    UNKNOWN_OUTCOME when a POST was sent and the answer was lost (read timeout, reset),
    SETUP for TLS failures (certificates do not fix themselves).
    """


class TossValidationError(TossError, ValueError):
    """A request field was refused locally, before anything was sent. ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", kind=ErrorKind.INVALID_REQUEST)
        self.field = field
