"""An HTTP JSON-RPC proxy in front of a real node that injects broadcast faults into eth_sendRawTransaction.

Every other request passes through untouched. A fault is armed for a number of sends; `forward` says
whether the node gets the bytes before the client sees the fault (the dangerous case: the node has the
transaction, the client does not know).
"""

from __future__ import annotations

import collections
import enum
import json
import random
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Fault(enum.StrEnum):
    TIMEOUT = "timeout"  # hold the answer past the client's timeout, then hang up
    ALREADY_KNOWN = "already_known"  # JSON-RPC error "already known"
    NONCE_TOO_LOW = "nonce_too_low"  # JSON-RPC error "nonce too low"
    HTTP_502 = "http_502"  # a gateway error page instead of JSON
    SLOW = "slow"  # wait, then forward and answer normally


CHAOS_FAULTS = (Fault.TIMEOUT, Fault.ALREADY_KNOWN, Fault.NONCE_TOO_LOW, Fault.HTTP_502)


@dataclass
class _Armed:
    fault: Fault
    forward: bool
    times: int
    delay: float


class FaultyProxy:
    """Start with `with FaultyProxy(node_url) as proxy:`, point a JsonRpc at proxy.url, then inject()."""

    def __init__(self, upstream: str, on_send: Callable[[str], None] | None = None) -> None:
        """`on_send(raw_hex)` is called with every raw transaction passed on to the node."""
        self.upstream = upstream
        self.on_send = on_send
        self.sends_seen = 0  # eth_sendRawTransaction requests that reached the proxy
        self.sends_forwarded = 0  # ... and that the node received
        self._armed: _Armed | None = None
        self._chaos_rate = 0.0
        self._rng = random.Random(0)
        self.injected: collections.Counter[str] = collections.Counter()  # chaos faults by kind
        self._lock = threading.Lock()
        self._released = threading.Event()  # lets held TIMEOUT answers go when the proxy stops
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="faulty-proxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def inject(self, fault: Fault, *, forward: bool = True, times: int = 1, delay: float = 2.0) -> None:
        """Apply `fault` to the next `times` sends."""
        with self._lock:
            self._armed = _Armed(fault, forward, times, delay)

    def chaos(self, rate: float, seed: int = 0) -> None:
        """From now on each send gets a random fault with probability `rate` (0 stops it): a timeout, "already
        known", "nonce too low" or a 502, after the node got the bytes (70%) or without them."""
        with self._lock:
            self._chaos_rate = rate
            self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self._armed = None

    def start(self) -> FaultyProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultyProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- used by the handler -------------------------------------------------------------------

    def _take(self) -> _Armed | None:
        with self._lock:
            self.sends_seen += 1
            armed = self._armed
            if armed is None:
                return self._chaos_take()
            armed.times -= 1
            if armed.times <= 0:
                self._armed = None
            return armed

    def _chaos_take(self) -> _Armed | None:
        if not self._chaos_rate or self._rng.random() >= self._chaos_rate:
            return None
        fault = self._rng.choice(CHAOS_FAULTS)
        forward = self._rng.random() < 0.7
        self.injected[f"{fault}{'' if forward else ' (not forwarded)'}"] += 1
        return _Armed(fault, forward, 1, 1.0)

    def _forward_send(self, body: bytes) -> tuple[int, bytes]:
        with self._lock:
            self.sends_forwarded += 1
        if self.on_send is not None:
            self.on_send(json.loads(body)["params"][0])
        return self._forward(body)

    def _forward(self, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.upstream, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up first (it timed out, or the proxy hung up on purpose) is no error."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)


def _is_send(payload: Any) -> bool:
    return isinstance(payload, dict) and payload.get("method") == "eth_sendRawTransaction"


def _error_body(request_id: Any, message: str) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": message}}
    ).encode()


def _handler_for(proxy: FaultyProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
            if not _is_send(payload):
                self._reply(*proxy._forward(body))
                return
            armed = proxy._take()
            if armed is None:
                self._reply(*proxy._forward_send(body))
                return
            self._faulty_send(armed, body, payload.get("id"))

        def _faulty_send(self, armed: _Armed, body: bytes, request_id: Any) -> None:
            if armed.fault is Fault.SLOW:
                proxy._released.wait(armed.delay)
            forwarded = proxy._forward_send(body) if armed.forward or armed.fault is Fault.SLOW else None
            if armed.fault is Fault.TIMEOUT:
                proxy._released.wait(armed.delay)
                self.close_connection = True  # hang up without an answer
            elif armed.fault is Fault.ALREADY_KNOWN:
                self._reply(200, _error_body(request_id, "already known"))
            elif armed.fault is Fault.NONCE_TOO_LOW:
                self._reply(200, _error_body(request_id, "nonce too low"))
            elif armed.fault is Fault.HTTP_502:
                self._reply(502, b"<html><body>502 Bad Gateway</body></html>", "text/html")
            elif forwarded is not None:
                self._reply(*forwarded)

        def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
