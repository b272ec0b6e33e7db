"""Exit codes and the CLI's own one-line error."""

from __future__ import annotations

__all__ = ["EXIT_OK", "EXIT_RUNTIME", "EXIT_USAGE", "CliError"]

#: Success.
EXIT_OK = 0
#: Runtime refusal: not found, a state that refuses the change, Toss said no, a service is down.
EXIT_RUNTIME = 1
#: Usage or validation: bad options, bad values, bad configuration.
EXIT_USAGE = 2


class CliError(Exception):
    """A problem found by the CLI itself; printed as ``error: <field>: <reason>``."""

    def __init__(self, field: str | None, reason: str, *, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.exit_code = exit_code
