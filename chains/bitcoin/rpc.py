"""Bitcoin Core JSON-RPC client: transport, wire protocol and error mapping to the chain errors.

bitcoind speaks JSON-RPC 1.0 over HTTP with basic auth. It answers an RPC error with HTTP 500 (404 for an
unknown method) and a JSON body holding {"error": {"code", "message"}}; that is the node's answer, so it is
mapped to a named result or exception here, while a missing or unreadable answer (connection refused,
timeout, 5xx without a JSON-RPC body) is a TransientChainError. Amounts are parsed as Decimal, never
float, and converted to satoshis exactly.
"""

from __future__ import annotations

import base64
import enum
import http.client
import itertools
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chains.base import ChainError, TransientChainError, TxNotFound

SATS_PER_BTC = 100_000_000

# Bitcoin Core's RPC error codes (src/rpc/protocol.h).
RPC_MISC_ERROR = -1
RPC_INVALID_ADDRESS_OR_KEY = -5  # also "No such mempool or blockchain transaction", "Block not found"
RPC_INVALID_PARAMETER = -8
RPC_DESERIALIZATION_ERROR = -22
RPC_VERIFY_ERROR = -25
RPC_VERIFY_REJECTED = -26
RPC_VERIFY_ALREADY_IN_CHAIN = -27
RPC_IN_WARMUP = -28
RPC_METHOD_NOT_FOUND = -32601

# Reject reasons that mean "the node already has exactly this transaction".
_ALREADY_KNOWN_REASONS = ("txn-already-known", "txn-already-in-mempool", "already in block chain")
# Reject reasons that mean "an input is gone": maybe spent by this very transaction, already mined.
_MISSING_INPUTS_REASONS = ("missing-inputs", "missingorspent", "missing inputs")


class RpcError(ChainError):
    """The node answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str, method: str = "") -> None:
        super().__init__(
            f"{method}: RPC error {code}: {message}" if method else f"RPC error {code}: {message}"
        )
        self.code = code
        self.message = message
        self.method = method


class InvalidParameter(RpcError, ValueError):
    """-8: the node refused a parameter (a height out of range, a bad verbosity)."""


class BlockNotFound(RpcError):
    """-5 on a block call: the node knows no block with that hash."""


class RpcAuthError(ChainError):
    """HTTP 401/403: the RPC credentials are wrong. Not transient: retrying will not fix a config error."""


class RpcTimeout(TransientChainError):
    """The node did not answer in time. For a send, the transaction may or may not have reached it."""


class SendOutcome(enum.StrEnum):
    SENT = "sent"
    ALREADY_KNOWN = "already_known"
    MISSING_INPUTS = "missing_inputs"  # inputs spent or unknown: check the chain before concluding anything
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class SendResult:
    """What sendrawtransaction said, as a named result rather than an exception."""

    outcome: SendOutcome
    txid: str | None
    code: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class MempoolAcceptance:
    """One entry of testmempoolaccept: would the node take these bytes, and at what cost."""

    txid: str
    wtxid: str | None
    allowed: bool
    vsize: int | None
    fee: int | None  # satoshis
    reject_reason: str

    @property
    def already_known(self) -> bool:
        return classify_reason(self.reject_reason) is SendOutcome.ALREADY_KNOWN


@dataclass(frozen=True, slots=True)
class FeeEstimate:
    sat_per_vb: Decimal  # exact conversion of the node's BTC/kvB
    blocks: int


def btc_to_sats(value: Decimal | int | str) -> int:
    """BTC as the node prints it (8 decimals) to integer satoshis; refuses anything not a whole satoshi."""
    sats = Decimal(value) * SATS_PER_BTC
    if sats != sats.to_integral_value():
        raise ValueError(f"{value} BTC is not a whole number of satoshis")
    return int(sats)


def classify_reason(reason: str) -> SendOutcome:
    """Map a node reject reason to an outcome; anything not recognised is a rejection."""
    text = reason.lower()
    if any(marker in text for marker in _ALREADY_KNOWN_REASONS) or "already in utxo set" in text:
        return SendOutcome.ALREADY_KNOWN
    if any(marker in text for marker in _MISSING_INPUTS_REASONS):
        return SendOutcome.MISSING_INPUTS
    return SendOutcome.REJECTED


class BitcoinRpc:
    """A thin client for the Bitcoin Core calls the adapter needs. Thread-safe: no shared connection."""

    def __init__(self, url: str, *, user: str = "", password: str = "", timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
        self._ids = itertools.count(1)

    # --- transport and wire protocol -------------------------------------------------------------

    def call(self, method: str, *params: Any) -> Any:
        """One JSON-RPC call; the result, or RpcError for the node's error answer."""
        body = json.dumps({"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": params})
        status, payload = self._post(method, body.encode())
        reply = _decode_reply(method, status, payload)
        error = reply.get("error")
        if error:
            raise _rpc_error(method, int(error.get("code", RPC_MISC_ERROR)), str(error.get("message", "")))
        return reply.get("result")

    def _post(self, method: str, body: bytes) -> tuple[int, bytes]:
        request = urllib.request.Request(self.url, data=body, headers=self._headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:  # bitcoind sends RPC errors with HTTP 500/404
            with exc:
                return exc.code, exc.read()
        except TimeoutError as exc:
            raise RpcTimeout(f"{method}: no answer within {self.timeout}s") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise RpcTimeout(f"{method}: no answer within {self.timeout}s") from exc
            raise TransientChainError(f"{method}: cannot reach the node: {exc.reason}") from exc
        except (ConnectionError, http.client.HTTPException, OSError) as exc:
            raise TransientChainError(f"{method}: connection failed: {exc}") from exc

    # --- chain reads -----------------------------------------------------------------------------

    def getblockcount(self) -> int:
        return int(self.call("getblockcount"))

    def getblockhash(self, height: int) -> str:
        return str(self.call("getblockhash", height))

    def getblock_raw(self, block_hash: str) -> bytes:
        """The serialized block (verbosity 0)."""
        return bytes.fromhex(self._block_call("getblock", block_hash, 0))

    def getblock_with_prevouts(self, block_hash: str) -> dict[str, Any]:
        """The block with every transaction decoded and each input's spent output (verbosity 3)."""
        return self._block_call("getblock", block_hash, 3)

    def getblockheader(self, block_hash: str) -> dict[str, Any]:
        """The header with `confirmations` (-1 when the block is no longer on the main chain)."""
        return self._block_call("getblockheader", block_hash, True)

    def getrawtransaction(self, txid: str, verbosity: int = 1) -> dict[str, Any]:
        """A decoded transaction; verbosity 2 adds prevouts and the fee. Raises TxNotFound."""
        try:
            return self.call("getrawtransaction", txid, verbosity)
        except RpcError as exc:
            if exc.code == RPC_INVALID_ADDRESS_OR_KEY:
                raise TxNotFound(f"{txid}: {exc.message}") from exc
            raise

    def estimatesmartfee(self, conf_target: int) -> FeeEstimate | None:
        """The node's fee estimate in sat/vB, or None when it has too little data to give one."""
        answer = self.call("estimatesmartfee", conf_target)
        if "feerate" not in answer:
            return None
        # BTC per 1000 vbytes -> satoshis per vbyte: * 1e8 / 1e3
        rate = Decimal(answer["feerate"]) * SATS_PER_BTC / 1000
        return FeeEstimate(sat_per_vb=rate, blocks=int(answer.get("blocks", conf_target)))

    def _block_call(self, method: str, block_hash: str, verbosity: Any) -> Any:
        try:
            return self.call(method, block_hash, verbosity)
        except RpcError as exc:
            if exc.code == RPC_INVALID_ADDRESS_OR_KEY:
                raise BlockNotFound(exc.code, exc.message, method) from exc
            raise

    # --- mempool writes --------------------------------------------------------------------------

    def testmempoolaccept(self, raw: bytes) -> MempoolAcceptance:
        (entry,) = self.call("testmempoolaccept", [raw.hex()])
        fees = entry.get("fees") or {}
        return MempoolAcceptance(
            txid=entry["txid"],
            wtxid=entry.get("wtxid"),
            allowed=bool(entry.get("allowed")),
            vsize=entry.get("vsize"),
            fee=btc_to_sats(fees["base"]) if "base" in fees else None,
            reject_reason=str(entry.get("reject-reason", "")),
        )

    def sendrawtransaction(self, raw: bytes) -> SendResult:
        """Send; every answer the node gives is a SendResult. Transport failures raise (RpcTimeout...)."""
        try:
            txid = self.call("sendrawtransaction", raw.hex())
        except RpcError as exc:
            if exc.code == RPC_VERIFY_ALREADY_IN_CHAIN:
                return SendResult(SendOutcome.ALREADY_KNOWN, None, exc.code, exc.message)
            if exc.code in (RPC_VERIFY_ERROR, RPC_VERIFY_REJECTED, RPC_DESERIALIZATION_ERROR):
                return SendResult(classify_reason(exc.message), None, exc.code, exc.message)
            raise
        return SendResult(SendOutcome.SENT, str(txid))


def _decode_reply(method: str, status: int, payload: bytes) -> dict[str, Any]:
    if status in (401, 403):
        raise RpcAuthError(f"{method}: the node refused the RPC credentials (HTTP {status})")
    try:
        reply = json.loads(payload, parse_float=Decimal)
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
        if status >= 500 or status == 429:
            raise TransientChainError(f"{method}: HTTP {status} without a JSON-RPC answer")
        raise ChainError(f"{method}: unexpected HTTP {status} answer: {payload[:200]!r}")
    return reply


def _rpc_error(method: str, code: int, message: str) -> ChainError:
    if code == RPC_IN_WARMUP:
        return TransientChainError(f"{method}: node warming up: {message}")
    if code == RPC_INVALID_PARAMETER:
        return InvalidParameter(code, message, method)
    return RpcError(code, message, method)
