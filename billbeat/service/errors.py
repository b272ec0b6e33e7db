"""The one exception the service layer raises for a user's mistake."""

from __future__ import annotations

__all__ = ["ServiceError", "NotFoundError", "ConflictError"]


class ServiceError(Exception):
    """Bad input: ``str(exc)`` is one line, ``"<field>: <reason>"``. Nothing was written.

    The CLI maps it to exit code 2 (usage/validation); the two subclasses below are runtime
    refusals (exit code 1) but are still ``ServiceError``s, so callers need catch only this.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFoundError(ServiceError):
    """The addressed customer, subscription or charge does not exist."""


class ConflictError(ServiceError):
    """The request is well-formed but the row's current state refuses it (e.g. resume a
    canceled subscription, retry a DONE charge)."""
