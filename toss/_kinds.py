"""The classification every Toss error carries; the worker decides what to do from it alone."""

from __future__ import annotations

import enum

__all__ = ["ErrorKind"]


class ErrorKind(enum.Enum):
    """What a failed Toss call means for the caller (values equal the names).

    - ``SOFT_DECLINE``: the card refused this attempt; a later dunning attempt may pass.
    - ``HARD_DECLINE``: the card or billing key is unusable; the customer needs a new card.
    - ``TRANSIENT``: nothing was done; re-send the same attempt soon (same idempotency key).
    - ``UNKNOWN_OUTCOME``: a charge may or may not exist; look up the orderId before anything else.
    - ``SETUP``: our key/contract/TLS is wrong; every retry fails the same way; stop and alert.
    - ``INVALID_REQUEST``: our request is wrong (a bug or bad input); never retry it unchanged.
    """

    SOFT_DECLINE = "SOFT_DECLINE"
    HARD_DECLINE = "HARD_DECLINE"
    TRANSIENT = "TRANSIENT"
    UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
    SETUP = "SETUP"
    INVALID_REQUEST = "INVALID_REQUEST"
