"""Real billbeat processes (celery worker, beat) as subprocesses, with logs kept for failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

__all__ = ["ProcessSet", "BIN", "sandbox_process"]

#: The venv's bin folder (celery, billbeat).
BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


@dataclass
class ProcessSet:
    env: dict[str, str]
    log_dir: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        env = {**os.environ, **self.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        proc = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.procs[name] = proc
        return proc

    def worker(self, name: str = "worker", *, concurrency: int = 8, pool: str = "threads") -> None:
        self.start(
            name,
            [str(BIN / "celery"), "-A", "worker", "worker", "--pool", pool,
             "--concurrency", str(concurrency), "--loglevel", "INFO", "-E",
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip"],
        )  # fmt: skip

    def beat(self, name: str = "beat") -> None:
        self.start(name, [str(BIN / "celery"), "-A", "worker", "beat", "--loglevel", "INFO"])

    def stop(self, name: str, *, sig: int = signal.SIGTERM, timeout_seconds: float = 20) -> int:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return int(proc.returncode or 0)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def alive(self, name: str) -> bool:
        return self.procs[name].poll() is None

    def logs(self, name: str, tail: int = 60) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])

    def all_logs(self) -> str:
        return "\n".join(
            f"--- {p.stem} ---\n{self.logs(p.stem)}" for p in sorted(self.log_dir.glob("*.log"))
        )


@contextmanager
def sandbox_process(*extra_args: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``python -m toss.sandbox`` as a real subprocess on a free port, healthy before it is
    yielded as (process, base URL); stopped afterwards."""
    from billbeat.embedded_redis import free_port
    from tests.helpers.wait import wait_until

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "toss.sandbox", "--port", str(port), *extra_args],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def healthy() -> bool:
        try:
            return requests.get(f"{url}/sandbox/health", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_until(healthy, timeout_seconds=20, message="sandbox subprocess")
        yield proc, url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("the sandbox did not stop within 10 s of SIGTERM") from None
