"""``main(argv) -> exit code``: runs the typer app and turns every expected failure into one
line on stderr (``error: <field>: <reason>``) with a named exit code, never a traceback."""

from __future__ import annotations

import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from billbeat.cli.app import app
from billbeat.cli.errors import EXIT_OK, EXIT_RUNTIME, EXIT_USAGE, CliError
from billbeat.cli.runtime import Runtime
from billbeat.service.errors import ConflictError, NotFoundError, ServiceError
from billbeat.settings import SettingsError
from models.crypto import CipherError
from scheduler.clock import Clock
from toss import TossAPIError, TossError, TossValidationError

__all__ = ["main"]


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    """Run ``billbeat`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``clock`` replaces the system clock (tests pass a ManualClock).
    """
    args = sys.argv[1:] if argv is None else list(argv)
    rt = Runtime(clock=clock)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="billbeat", standalone_mode=False, obj=rt)
        return result if isinstance(result, int) else EXIT_OK
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return _fail("aborted", EXIT_RUNTIME)
    except typer.TyperException as exc:  # typer's (vendored click) usage errors
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        return _fail(message, getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE)
    except (NotFoundError, ConflictError) as exc:
        return _fail(str(exc), EXIT_RUNTIME)
    except ServiceError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except CliError as exc:
        return _fail(str(exc), exc.exit_code)
    except (SettingsError, CipherError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except TossValidationError as exc:
        return _fail(f"toss: {exc.message}", EXIT_USAGE)
    except TossAPIError as exc:
        return _fail(f"card: {exc.code}: {exc.message}", EXIT_RUNTIME)
    except TossError as exc:
        return _fail(f"toss: {exc.message}", EXIT_RUNTIME)
    except SQLAlchemyError as exc:
        return _fail(f"database: {_first_line(exc)}", EXIT_RUNTIME)
    finally:
        rt.close()


def _fail(message: str, code: int) -> int:
    print(f"error: {_first_line(message)}", file=sys.stderr)
    return code


def _first_line(value: object) -> str:
    text = str(getattr(value, "orig", None) or value).strip()
    return " ".join(text.split("\n")[0].split()) or "failed"
