"""A small TCP fault proxy for the chaos scenarios: a real socket between two real processes.

``FaultProxy(upstream_port).start()`` listens on a free loopback port and forwards bytes both
ways. Faults:

* ``cut()`` closes every open connection and refuses new ones (the listener is closed, so a
  connect gets ECONNREFUSED); ``restore()`` listens again on the same port. Used in front of
  PostgreSQL ("the database is unreachable").
* ``arm_charge_response(n, on_response)``: the next ``n`` HTTP responses to a billing charge
  (``POST /v1/billing/<key>``) are held — ``on_response()`` is called (the test SIGKILLs the
  worker there) and the connection is closed without forwarding a byte. Toss has answered and
  recorded the payment; the worker never learns it. Used between the worker and the sandbox.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

__all__ = ["FaultProxy"]

_CHARGE_PREFIX = b"POST /v1/billing/"
_ISSUE_PREFIX = b"POST /v1/billing/authorizations"


class _Conn:
    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        #: A charge request was forwarded and its response has not started yet.
        self.charge_in_flight = False

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class FaultProxy:
    """Forward 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, with faults (module docstring)."""

    def __init__(self, upstream_port: int, *, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._conns: set[_Conn] = set()
        self._lock = threading.Lock()
        self._armed = 0
        self._on_response: Callable[[], None] | None = None
        #: Charge responses swallowed so far.
        self.held = 0

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()/stop()
            if listener is not self._listener:
                client.close()
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            conn = _Conn(client, upstream)
            with self._lock:
                self._conns.add(conn)
            threading.Thread(target=self._pump_up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._pump_down, args=(conn,), daemon=True).start()

    def _pump_up(self, conn: _Conn) -> None:
        """client -> upstream; notes when a charge request goes out."""
        try:
            while data := conn.client.recv(65536):
                if data.startswith(_CHARGE_PREFIX) and not data.startswith(_ISSUE_PREFIX):
                    conn.charge_in_flight = True
                conn.upstream.sendall(data)
        except OSError:
            pass
        self._drop(conn)

    def _pump_down(self, conn: _Conn) -> None:
        """upstream -> client; swallows an armed charge response."""
        try:
            while data := conn.upstream.recv(65536):
                if conn.charge_in_flight:
                    conn.charge_in_flight = False
                    if self._take_armed():
                        if self._on_response is not None:
                            self._on_response()
                        break
                conn.client.sendall(data)
        except OSError:
            pass
        self._drop(conn)

    def _take_armed(self) -> bool:
        with self._lock:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.held += 1
            return True

    def _drop(self, conn: _Conn) -> None:
        with self._lock:
            self._conns.discard(conn)
        conn.close()

    def arm_charge_response(self, count: int, on_response: Callable[[], None] | None) -> None:
        """Swallow the next ``count`` charge responses, calling ``on_response`` first."""
        with self._lock:
            self._armed = count
            self._on_response = on_response

    def cut(self) -> None:
        """Close every connection and refuse new ones."""
        if self._listener is not None:
            try:  # wakes the thread blocked in accept() (a bare close() would not, on Linux)
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            conn.close()

    def restore(self) -> None:
        """Accept connections again, on the same port."""
        if self._listener is None:
            self._listen()

    def stop(self) -> None:
        self.cut()
