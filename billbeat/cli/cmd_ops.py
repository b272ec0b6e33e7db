"""Operations: ``db upgrade``, ``keys generate|rotate``, ``sandbox``, ``check``."""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from billbeat.cli._common import JsonOpt, runtime
from billbeat.cli.errors import EXIT_RUNTIME, CliError
from billbeat.cli.output import emit_json, emit_record, emit_table
from billbeat.cli.runtime import Runtime
from billbeat.service import rotate_billing_keys
from models.crypto import BillingKeyCipher, CipherError, generate_key
from models.migrate import current_revision, head_revision, upgrade

__all__ = ["db_app", "keys_app", "sandbox", "check"]

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of stored billing keys.", no_args_is_help=True)

#: Seconds to wait for Redis in `billbeat check`.
REDIS_TIMEOUT_SECONDS = 3


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Create or migrate the schema on DATABASE_URL to the newest revision (idempotent).

    Example: billbeat db upgrade
    """
    rt = runtime(ctx)
    rt.settings.ensure_sqlite_dir()
    try:
        upgrade(rt.engine)
        revision = current_revision(rt.engine)
    except SQLAlchemyError as exc:
        raise CliError("database", _first_line(exc), exit_code=EXIT_RUNTIME) from None
    doc = {"revision": revision, "head": head_revision()}
    if as_json:
        emit_json(doc)
    else:
        emit_record("database upgraded", doc)


@keys_app.command("generate")
def keys_generate(as_json: JsonOpt = False) -> None:
    """Print a new Fernet key for BILLBEAT_ENCRYPTION_KEY (keep it secret).

    Example: billbeat keys generate
    """
    key = generate_key()
    if as_json:
        emit_json({"key": key})
    else:
        print(key)


@keys_app.command("rotate")
def keys_rotate(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Re-encrypt every stored billing key with the FIRST key of BILLBEAT_ENCRYPTION_KEY,
    online, a few rows per transaction. Rotation: put the new key first
    (BILLBEAT_ENCRYPTION_KEY=new,old), run this, then drop the old key.

    Example: billbeat keys rotate --json
    """
    rt = runtime(ctx)
    count = rotate_billing_keys(rt.session_factory(), rt.cipher)
    if as_json:
        emit_json({"rotated": count})
    else:
        print(f"re-encrypted {count} billing key(s) with the first configured key")


def sandbox(ctx: typer.Context) -> None:
    """Run the Toss sandbox (a local look-alike of the Toss API).

    Options are forwarded: [--host 127.0.0.1] [--port 8787] [--state-file PATH].
    Example: billbeat sandbox --port 8787
    """
    from toss import sandbox as sandbox_pkg  # imported here: only this command needs aiohttp

    try:
        code = sandbox_pkg.main(list(ctx.args))
    except SystemExit as exc:  # argparse exits on --help or bad options
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    raise typer.Exit(code or 0)


def check(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Check the configuration and the services it points to; exit 1 if anything fails.

    Example: billbeat check --json
    """
    rt = runtime(ctx)
    results = [_check_database(rt), _check_redis(rt), _check_secret_key(rt), _check_cipher(rt)]
    ok = all(r["ok"] for r in results)
    if as_json:
        emit_json({"ok": ok, "checks": results})
    else:
        rows = [(r["name"], "ok" if r["ok"] else "FAIL", r["detail"]) for r in results]
        emit_table("billbeat check", ("check", "result", "detail"), rows)
    if not ok:
        raise typer.Exit(EXIT_RUNTIME)


def _result(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "ok": ok, "detail": detail}


def _check_database(rt: Runtime) -> dict[str, Any]:
    try:
        current = current_revision(rt.engine)
    except SQLAlchemyError as exc:
        return _result("database", False, f"unreachable: {_first_line(exc)}")
    head = head_revision()
    if current != head:
        return _result("database", False, f"at {current}, head is {head}: run billbeat db upgrade")
    return _result("database", True, f"{rt.engine.dialect.name} at head {head}")


def _check_redis(rt: Runtime) -> dict[str, Any]:
    import redis

    try:
        client = redis.Redis.from_url(
            rt.settings.redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        client.ping()
        client.close()
    except (redis.RedisError, ValueError) as exc:
        return _result("redis", False, f"unreachable: {_first_line(exc)}")
    return _result("redis", True, "ping ok")


def _check_secret_key(rt: Runtime) -> dict[str, Any]:
    key = rt.settings.toss_secret_key.get_secret_value()
    base = rt.settings.toss_api_base
    if key.startswith(("test_sk_", "test_gsk_")):
        return _result("toss_secret_key", True, f"test mode (test_sk_) against {base}")
    if key.startswith(("live_sk_", "live_gsk_")):
        return _result("toss_secret_key", True, f"LIVE mode (live_sk_) against {base}")
    if not key:
        return _result("toss_secret_key", False, "TOSS_SECRET_KEY is not set")
    return _result("toss_secret_key", False, "does not start with test_sk_ or live_sk_")


def _check_cipher(rt: Runtime) -> dict[str, Any]:
    try:
        cipher = BillingKeyCipher(rt.settings.encryption_keys)
        cipher.decrypt(cipher.encrypt("probe"))
    except CipherError as exc:
        return _result("encryption_key", False, str(exc))
    count = len(rt.settings.encryption_keys)
    return _result("encryption_key", True, f"{count} key(s); the first encrypts")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or ["unknown error"])[0]
