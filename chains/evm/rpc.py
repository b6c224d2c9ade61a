"""Raw EVM JSON-RPC transport: a keep-alive HTTP session, batches, node errors mapped to chain errors."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from typing import Any

import requests

from chains.base import ChainError, RangeTooLarge, TransientChainError

# Providers word "your range is too big" differently; each of these means "shrink it and retry".
RANGE_TOO_LARGE_MARKERS = (
    "too many results",
    "query returned more than",
    "range too large",
    "range is too large",
    "block range is too wide",
    "limit exceeded",
    "response size exceeded",
    "exceed maximum block range",
)
# Rate limits arrive as JSON-RPC errors too (HTTP 200 with an error body on some providers).
TRANSIENT_MARKERS = ("rate limit", "too many requests", "capacity", "timeout", "timed out", "try again")
TRANSIENT_HTTP_STATUSES = frozenset({408, 425, 429})
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class RpcError(ChainError):
    """The node answered with a JSON-RPC error that is neither transient nor a range problem."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        super().__init__(f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message
        self.data = data


def classify_error(method: str, error: dict[str, Any]) -> ChainError:
    """The chain error for a JSON-RPC error object."""
    message = str(error.get("message", ""))
    lowered = message.lower()
    if any(marker in lowered for marker in RANGE_TOO_LARGE_MARKERS):
        return RangeTooLarge(f"{method}: {message}")
    if any(marker in lowered for marker in TRANSIENT_MARKERS) or error.get("code") == 429:
        return TransientChainError(f"{method}: {message}")
    return RpcError(method, error.get("code"), message, error.get("data"))


class JsonRpc:
    """A thin JSON-RPC 2.0 client over HTTP. Thread-safe for request ids; share one per node URL."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self._session = session or requests.Session()
        self._session.headers.update({"Content-Type": "application/json"})
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def _next_id(self) -> int:
        with self._id_lock:
            return next(self._ids)

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; returns `result` or raises a ChainError."""
        request_id = self._next_id()
        body = self._post({"jsonrpc": "2.0", "id": request_id, "method": method, "params": list(params)})
        if not isinstance(body, dict):
            raise TransientChainError(f"{method}: malformed response {str(body)[:200]}")
        if body.get("error") is not None:
            raise classify_error(method, body["error"])
        return body.get("result")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several requests in one HTTP round trip; results in call order. Any error raises."""
        if not calls:
            return []
        payload = []
        for method, params in calls:
            payload.append(
                {"jsonrpc": "2.0", "id": self._next_id(), "method": method, "params": list(params)}
            )
        body = self._post(payload)
        if isinstance(body, dict) and body.get("error") is not None:
            # Some nodes answer a whole batch with one error object (e.g. batch too large).
            raise classify_error("batch", body["error"])
        if not isinstance(body, list):
            raise TransientChainError(f"batch: malformed response {str(body)[:200]}")
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        results = []
        for request in payload:
            item = by_id.get(request["id"])
            if item is None:
                raise TransientChainError(f"{request['method']}: missing from batch response")
            if item.get("error") is not None:
                raise classify_error(request["method"], item["error"])
            results.append(item.get("result"))
        return results

    def _post(self, payload: Any) -> Any:
        try:
            response = self._session.post(self.url, json=payload, timeout=self.timeout)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientChainError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise TransientChainError(f"{self.url}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in TRANSIENT_HTTP_STATUSES:
            raise TransientChainError(f"{self.url}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            if response.status_code >= 400:
                raise RpcError("http", response.status_code, response.text[:200]) from exc
            raise TransientChainError(f"{self.url}: response is not JSON") from exc

    def close(self) -> None:
        self._session.close()
