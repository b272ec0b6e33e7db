"""Run the sandbox: blocking (``run``, for the CLI) or in a background thread (tests, bench)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from datetime import datetime

from aiohttp import web

from toss.sandbox.app import make_app

__all__ = ["run", "SandboxServer"]


def run(
    host: str = "127.0.0.1",
    port: int = 8787,
    state_file: str | os.PathLike[str] | None = None,
    *,
    latency_ms: int = 0,
) -> None:
    """Serve until interrupted. Binds loopback by default: the control API has no auth."""
    web.run_app(
        make_app(state_file, latency_ms=latency_ms),
        host=host, port=port, access_log=None, print=None,
        # aiohttp waits up to 60 s for keep-alive connections on SIGTERM; a test double has
        # nothing worth that wait (make run's Ctrl-C and the tests stop it).
        shutdown_timeout=1.0,
    )  # fmt: skip


class SandboxServer:
    """The sandbox on its own event loop in a daemon thread; ``port=0`` picks a free port.

    ``start()`` returns once the socket is listening; ``url`` is then usable. ``stop()`` shuts
    the server down and joins the thread.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_file: str | os.PathLike[str] | None = None,
        now: Callable[[], datetime] | None = None,
        latency_ms: int = 0,
    ) -> None:
        self.host, self.port = host, port
        self._app = make_app(state_file, now=now, latency_ms=latency_ms)
        self._loop = asyncio.new_event_loop()
        self._runner = web.AppRunner(self._app, access_log=None)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="toss-sandbox")  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp exposes no public accessor for the bound port
        assert isinstance(server, asyncio.Server)
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
