"""A local HTTP server speaking Bitcoin Core's JSON-RPC, serving real mainnet fixtures on a test-built chain.

Wire behaviour copied from bitcoind: JSON-RPC 1.0 bodies, basic auth (401 with an empty body), HTTP 500
for an RPC error and 404 for an unknown method, error codes from src/rpc/protocol.h, amounts as JSON
numbers with 8 decimals.

The chain is synthetic, its transactions real: a test mines blocks from fixture transactions (and its own),
extends the chain and reorgs it. Synthetic blocks get a fresh coinbase (BIP34 height) and a regtest-style
header with no proof of work; a real block (702861) can be the chain's first block, served byte for byte.

What differs from bitcoind, on purpose:
- scriptPubKey objects carry hex, type and address, but no `asm` or `desc`.
- An input's `prevout` (verbosity 3 / getrawtransaction 2) is filled from this node's own transactions or
  else from the fixture's Esplora JSON (value + script; no `height`/`generated` there). Where neither knows
  the spent output, `prevout` is absent, and so is the transaction's `fee`.
- testmempoolaccept/sendrawtransaction check scripts with py-bitcoinkernel where every spent output is
  known, and refuse inputs the node does not know as "missing-inputs"; no other policy checks than fee and
  dust.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bitcoin.core import CBlock, CBlockHeader, COutPoint, CTransaction, CTxIn, CTxOut, b2lx, lx
from bitcoin.core.script import OP_RETURN, CScript

from tests.chains.bitcoin.kernel import ConsensusFailure, verify_tx

# tests/chains/bitcoin/fake_node.py -> repo root is parents[3]; the repo root's parent holds shared/.
FIXTURES_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "bitcoin"
BLOCK_702861_HASH = "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae"
SATS = Decimal(100_000_000)
REGTEST_BITS = 0x207FFFFF
DUST_RELAY_SAT_PER_KVB = 3000
MIN_RELAY_SAT_PER_VB = 1


# --- fixture files ------------------------------------------------------------------------------


@cache
def fixture_tx_hex(txid: str) -> str:
    return (FIXTURES_DIR / f"{txid}.hex").read_text().strip()


@cache
def fixture_esplora(txid: str) -> dict[str, Any] | None:
    path = FIXTURES_DIR / f"{txid}.esplora.json"
    return json.loads(path.read_text()) if path.exists() else None


@cache
def block_831802_txs() -> tuple[str, ...]:
    """The 2,107 raw txs of mainnet block 831802 in block order (index 0 = coinbase)."""
    return tuple(line.strip() for line in (FIXTURES_DIR / "block_831802_txs.hex").read_text().splitlines())


def block_702861_raw() -> bytes:
    return (FIXTURES_DIR / f"mainnet_block_{BLOCK_702861_HASH}.raw").read_bytes()


def to_tx(tx: bytes | str | CTransaction) -> CTransaction:
    if isinstance(tx, CTransaction):
        return tx
    return CTransaction.deserialize(bytes.fromhex(tx) if isinstance(tx, str) else tx)


def btc(sats: int) -> Decimal:
    return (Decimal(sats) / SATS).quantize(Decimal("0.00000001"))


# --- Core-shaped JSON ---------------------------------------------------------------------------


def script_type(script: bytes) -> str:
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[-2:] == b"\x88\xac":
        return "pubkeyhash"
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[-1] == 0x87:
        return "scripthash"
    if script[:1] == bytes([OP_RETURN]):
        return "nulldata"
    if len(script) == 22 and script[:2] == b"\x00\x14":
        return "witness_v0_keyhash"
    if len(script) == 34 and script[:2] == b"\x00\x20":
        return "witness_v0_scripthash"
    if len(script) == 34 and script[:2] == b"\x51\x20":
        return "witness_v1_taproot"
    if 4 <= len(script) <= 42 and 0x51 <= script[0] <= 0x60 and script[1] == len(script) - 2:
        return "witness_unknown"
    return "nonstandard"


def script_json(script: bytes) -> dict[str, Any]:
    return dict(_script_json(script))


@cache  # a block's worth of bech32 encodings costs seconds; scripts repeat across tests
def _script_json(script: bytes) -> dict[str, Any]:
    out: dict[str, Any] = {"hex": script.hex(), "type": script_type(script)}
    address = _address_of(script)
    if address:
        out["address"] = address
    return out


def _address_of(script: bytes) -> str | None:
    # The project's own encoder; a node without it still serves everything but the address field.
    try:
        from chains.bitcoin.address import script_to_address
        from chains.bitcoin.network import network_by_name

        return script_to_address(script, network_by_name("bitcoin"))
    except NotImplementedError:
        return None


def tx_weight(tx: CTransaction) -> int:
    stripped = len(CTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion).serialize())
    return stripped * 3 + len(tx.serialize())


@dataclass(slots=True)
class Prevout:
    value: int
    script: bytes
    height: int | None = None
    generated: bool | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.generated is not None:
            out["generated"] = self.generated
        if self.height is not None:
            out["height"] = self.height
        out["value"] = btc(self.value)
        out["scriptPubKey"] = script_json(self.script)
        return out


@dataclass(slots=True)
class FakeBlock:
    height: int
    header: CBlockHeader
    txs: list[CTransaction]
    raw: bytes

    @property
    def hash(self) -> str:
        return b2lx(self.header.GetHash())


@dataclass(slots=True)
class Fault:
    kind: str  # "timeout" | "http500" | "disconnect" | "error"
    delay: float = 0.0
    code: int = 0
    message: str = ""
    after_effect: bool = False  # run the call, then fail the answer (the "sent but no reply" case)


# --- the node -----------------------------------------------------------------------------------


class RpcFailure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class FakeBitcoinNode:
    """Chain state + RPC methods. `start()` serves it over HTTP at `url`."""

    user: str = "rpcuser"
    password: str = "rpcpass"
    start_height: int = 800_000
    fee_rate_btc_kvb: Decimal | None = Decimal("0.00012000")  # 12 sat/vB
    blocks: dict[str, FakeBlock] = field(default_factory=dict)  # every block ever made, stale ones too
    main: list[str] = field(default_factory=list)  # hashes of the main chain, main[0] at start_height
    mempool: dict[str, CTransaction] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _server: ThreadingHTTPServer | None = None
    _forks: int = 0
    _tx_index: dict[str, tuple[CTransaction, FakeBlock]] | None = None
    _spent: set[tuple[bytes, int]] = field(default_factory=set)

    # --- building the chain (test side) ---

    def start_with_real_block_702861(self) -> str:
        """Make real block 702861 the chain's first block (its parent is unknown, as on a pruned node)."""
        block = CBlock.deserialize(block_702861_raw())
        self.start_height = 702861
        return self._connect(FakeBlock(702861, block.get_header(), list(block.vtx), block_702861_raw()))

    def mine(self, txs: Iterable[bytes | str | CTransaction] = (), *, with_coinbase: bool = True) -> str:
        """Append a block holding `txs` (after a fresh coinbase unless the list brings its own)."""
        with self._lock:
            height = self.start_height + len(self.main)
            body = [to_tx(t) for t in txs]
            if with_coinbase:
                body.insert(0, self._coinbase(height))
            prev = lx(self.main[-1]) if self.main else b"\x00" * 32
            block = CBlock(
                nVersion=0x20000000,
                hashPrevBlock=prev,
                nTime=1_700_000_000 + 600 * (height - self.start_height),
                nBits=REGTEST_BITS,
                nNonce=height,
                vtx=body,
            )
            block = CBlock(
                block.nVersion, block.hashPrevBlock, block.calc_merkle_root(), block.nTime,
                block.nBits, block.nNonce, block.vtx,
            )  # fmt: skip
            return self._connect(FakeBlock(height, block.get_header(), body, block.serialize()))

    def mine_block_831802(self) -> str:
        """A block holding all 2,107 txs of mainnet block 831802 (its real coinbase included)."""
        return self.mine(block_831802_txs(), with_coinbase=False)

    def reorg(self, depth: int, replacements: Iterable[Iterable[bytes | str | CTransaction]]) -> list[str]:
        """Take the top `depth` blocks off the main chain (they answer confirmations=-1), then mine."""
        with self._lock:
            self._forks += 1
            for block_hash in self.main[-depth:]:
                for tx in self.blocks[block_hash].txs[1:]:
                    self.mempool[b2lx(tx.GetTxid())] = tx  # Core returns disconnected txs to the mempool
            del self.main[-depth:]
            self._tx_index = None
            return [self.mine(txs) for txs in replacements]

    def fail_next(self, method: str, kind: str, **options: Any) -> None:
        self.faults.setdefault(method, []).append(Fault(kind, **options))

    @property
    def tip_height(self) -> int:
        return self.start_height + len(self.main) - 1

    def _coinbase(self, height: int) -> CTransaction:
        height_push = height.to_bytes((height.bit_length() + 8) // 8, "little")
        script_sig = CScript([height_push, self._forks.to_bytes(4, "little")])
        tx_in = CTxIn(COutPoint(), script_sig, 0xFFFFFFFF)
        return CTransaction([tx_in], [CTxOut(312_500_000, CScript([OP_RETURN, b"fake node"]))], 0, 2)

    def _connect(self, block: FakeBlock) -> str:
        with self._lock:
            self.blocks[block.hash] = block
            self.main.append(block.hash)
            for tx in block.txs:
                self.mempool.pop(b2lx(tx.GetTxid()), None)
            self._tx_index = None
            return block.hash

    # --- lookups ---

    def _index(self) -> dict[str, tuple[CTransaction, FakeBlock]]:
        """Every main-chain transaction by txid (the node runs with -txindex)."""
        if self._tx_index is None:
            self._tx_index = {
                b2lx(t.GetTxid()): (t, self.blocks[h]) for h in self.main for t in self.blocks[h].txs
            }
            self._spent = {(i.prevout.hash, i.prevout.n) for t, _b in self._tx_index.values() for i in t.vin}
        return self._tx_index

    def _confirmations(self, block: FakeBlock) -> int:
        on_main = (
            block.height <= self.tip_height and self.main[block.height - self.start_height] == block.hash
        )
        return self.tip_height - block.height + 1 if on_main else -1

    def _prevout(self, spender: CTransaction, index: int) -> Prevout | None:
        outpoint = spender.vin[index].prevout
        parent_txid = b2lx(outpoint.hash)
        found = self._index().get(parent_txid)
        if found:
            parent, block = found
            out = parent.vout[outpoint.n]
            return Prevout(out.nValue, bytes(out.scriptPubKey), block.height, parent.is_coinbase())
        if parent_txid in self.mempool:
            out = self.mempool[parent_txid].vout[outpoint.n]
            return Prevout(out.nValue, bytes(out.scriptPubKey), None, False)
        esplora = fixture_esplora(b2lx(spender.GetTxid()))
        if esplora and "prevout" in esplora["vin"][index]:
            spent = esplora["vin"][index]["prevout"]
            return Prevout(int(spent["value"]), bytes.fromhex(spent["scriptpubkey"]))
        return None

    def _spent_elsewhere(self, outpoint: COutPoint) -> bool:
        self._index()
        key = (outpoint.hash, outpoint.n)
        return key in self._spent or any(
            (i.prevout.hash, i.prevout.n) == key for t in self.mempool.values() for i in t.vin
        )

    def _tx_json(self, tx: CTransaction, *, with_prevouts: bool) -> dict[str, Any]:
        raw = tx.serialize()
        weight = tx_weight(tx)
        vin: list[dict[str, Any]] = []
        prevouts = [None if tx.is_coinbase() else self._prevout(tx, i) for i in range(len(tx.vin))]
        for i, tx_in in enumerate(tx.vin):
            witness = tx.wit.vtxinwit[i].scriptWitness.stack if tx.wit.vtxinwit else []
            entry: dict[str, Any]
            if tx.is_coinbase():
                entry = {"coinbase": bytes(tx_in.scriptSig).hex()}
            else:
                entry = {
                    "txid": b2lx(tx_in.prevout.hash),
                    "vout": tx_in.prevout.n,
                    "scriptSig": {"hex": bytes(tx_in.scriptSig).hex()},
                }
            if witness:
                entry["txinwitness"] = [bytes(item).hex() for item in witness]
            if with_prevouts and prevouts[i] is not None:
                entry["prevout"] = prevouts[i].as_json()
            entry["sequence"] = tx_in.nSequence
            vin.append(entry)
        out: dict[str, Any] = {
            "txid": b2lx(tx.GetTxid()),
            "hash": b2lx(tx.GetHash()),
            "version": tx.nVersion,
            "size": len(raw),
            "vsize": (weight + 3) // 4,
            "weight": weight,
            "locktime": tx.nLockTime,
            "vin": vin,
            "vout": [
                {"value": btc(o.nValue), "n": n, "scriptPubKey": script_json(bytes(o.scriptPubKey))}
                for n, o in enumerate(tx.vout)
            ],
        }
        if with_prevouts and not tx.is_coinbase() and all(p is not None for p in prevouts):
            out["fee"] = btc(sum(p.value for p in prevouts) - sum(o.nValue for o in tx.vout))
        out["hex"] = raw.hex()
        return out

    def _block_json(self, block: FakeBlock, *, verbosity: int | None) -> dict[str, Any]:
        header = block.header
        out: dict[str, Any] = {
            "hash": block.hash,
            "confirmations": self._confirmations(block),
            "height": block.height,
            "version": header.nVersion,
            "versionHex": f"{header.nVersion:08x}",
            "merkleroot": b2lx(header.hashMerkleRoot),
            "time": header.nTime,
            "mediantime": header.nTime,
            "nonce": header.nNonce,
            "bits": f"{header.nBits:08x}",
            "nTx": len(block.txs),
        }
        if block.height > self.start_height or header.hashPrevBlock != b"\x00" * 32:
            out["previousblockhash"] = b2lx(header.hashPrevBlock)
        next_height = block.height + 1 - self.start_height
        if out["confirmations"] > 1 and next_height < len(self.main):
            out["nextblockhash"] = self.main[next_height]
        if verbosity is None:
            return out
        out["size"] = len(block.raw)
        if verbosity == 1:
            out["tx"] = [b2lx(tx.GetTxid()) for tx in block.txs]
        else:
            out["tx"] = [self._tx_json(tx, with_prevouts=verbosity >= 3) for tx in block.txs]
        return out

    def _block(self, block_hash: Any) -> FakeBlock:
        _check_hash(block_hash, "blockhash")
        block = self.blocks.get(block_hash)
        if block is None:
            raise RpcFailure(-5, "Block not found")
        return block

    # --- RPC methods ---

    def rpc_getblockcount(self) -> int:
        return self.tip_height

    def rpc_getblockhash(self, height: int) -> str:
        if not isinstance(height, int) or not self.start_height <= height <= self.tip_height:
            raise RpcFailure(-8, "Block height out of range")
        return self.main[height - self.start_height]

    def rpc_getblock(self, block_hash: str, verbosity: int | bool = 1) -> Any:
        block = self._block(block_hash)
        verbosity = int(verbosity)
        if verbosity == 0:
            return block.raw.hex()
        if verbosity not in (1, 2, 3):
            raise RpcFailure(-8, f"Verbosity was {verbosity} but must be 0, 1, 2 or 3")  # Core: clamps
        return self._block_json(block, verbosity=verbosity)

    def rpc_getblockheader(self, block_hash: str, verbose: bool = True) -> Any:
        block = self._block(block_hash)
        return self._block_json(block, verbosity=None) if verbose else block.header.serialize().hex()

    def rpc_getrawtransaction(
        self, txid: str, verbosity: int | bool = 0, blockhash: str | None = None
    ) -> Any:
        _check_hash(txid, "parameter 1")
        found = self._index().get(txid)
        tx = found[0] if found else self.mempool.get(txid)
        if tx is None:
            raise RpcFailure(
                -5, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions."
            )
        level = int(verbosity)
        if level == 0:
            return tx.serialize().hex()
        out = self._tx_json(tx, with_prevouts=level >= 2)
        if found:
            block = found[1]
            out |= {"blockhash": block.hash, "confirmations": self._confirmations(block)}
            out |= {"time": block.header.nTime, "blocktime": block.header.nTime}
        return out

    def rpc_testmempoolaccept(self, rawtxs: list[str], maxfeerate: Any = None) -> list[dict[str, Any]]:
        if not isinstance(rawtxs, list) or len(rawtxs) != 1:
            raise RpcFailure(-8, "Array must contain between 1 and 25 transactions.")
        tx = _decode(rawtxs[0])
        txid = b2lx(tx.GetTxid())
        answer: dict[str, Any] = {"txid": txid, "wtxid": b2lx(tx.GetHash())}
        try:
            fee, vsize = self._policy_check(tx)
        except RpcFailure as failure:
            return [answer | {"allowed": False, "reject-reason": failure.message}]
        return [answer | {"allowed": True, "vsize": vsize, "fees": {"base": btc(fee)}}]

    def rpc_sendrawtransaction(self, hexstring: str, maxfeerate: Any = None) -> str:
        tx = _decode(hexstring)
        txid = b2lx(tx.GetTxid())
        if txid in self.mempool:
            return txid  # Core >= 22: re-sending a mempool transaction is a success
        if txid in self._index():
            raise RpcFailure(-27, "Transaction outputs already in utxo set")
        try:
            self._policy_check(tx)
        except RpcFailure as failure:
            code = -25 if failure.message == "missing-inputs" else -26
            message = "bad-txns-inputs-missingorspent" if code == -25 else failure.message
            raise RpcFailure(code, message) from None
        self.mempool[txid] = tx
        return txid

    def rpc_estimatesmartfee(self, conf_target: int, estimate_mode: str = "conservative") -> dict[str, Any]:
        if self.fee_rate_btc_kvb is None:
            return {"errors": ["Insufficient data or no feerate found"], "blocks": 0}
        return {"feerate": self.fee_rate_btc_kvb, "blocks": conf_target}

    def _policy_check(self, tx: CTransaction) -> tuple[int, int]:
        txid = b2lx(tx.GetTxid())
        if txid in self.mempool:
            raise RpcFailure(-26, "txn-already-in-mempool")
        if txid in self._index():
            raise RpcFailure(-27, "txn-already-known")
        spent: list[tuple[bytes, int]] = []
        for i, tx_in in enumerate(tx.vin):
            prevout = self._prevout(tx, i)
            if prevout is None or self._spent_elsewhere(tx_in.prevout):
                raise RpcFailure(-25, "missing-inputs")
            spent.append((prevout.script, prevout.value))
        fee = sum(v for _s, v in spent) - sum(o.nValue for o in tx.vout)
        vsize = (tx_weight(tx) + 3) // 4
        if fee < 0:
            raise RpcFailure(-26, "bad-txns-in-belowout")
        if fee < vsize * MIN_RELAY_SAT_PER_VB:
            raise RpcFailure(-26, f"min relay fee not met, {fee} < {vsize * MIN_RELAY_SAT_PER_VB}")
        if any(_is_dust(o) for o in tx.vout):
            raise RpcFailure(-26, "dust")
        try:
            verify_tx(tx.serialize(), spent)
        except ConsensusFailure as exc:
            raise RpcFailure(-26, f"mandatory-script-verify-flag-failed ({exc})") from None
        return fee, vsize

    # --- HTTP ---

    def dispatch(self, method: str, params: list[Any]) -> Any:
        handler = getattr(self, f"rpc_{method}", None)
        if handler is None:
            raise RpcFailure(-32601, "Method not found")
        with self._lock:
            try:
                return handler(*params)
            except TypeError as exc:
                raise RpcFailure(-1, f"wrong parameters for {method}: {exc}") from None

    def start(self) -> FakeBitcoinNode:
        if not self.main:
            self.mine()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server, "start() the node first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def take_fault(self, method: str) -> Fault | None:
        with self._lock:
            queue = self.faults.get(method)
            return queue.pop(0) if queue else None


def _check_hash(value: Any, name: str) -> None:
    if not isinstance(value, str) or len(value) != 64:
        length = len(value) if isinstance(value, str) else 0
        raise RpcFailure(-8, f"{name} must be of length 64 (not {length}, for '{value}')")
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise RpcFailure(-8, f"{name} must be hexadecimal string (not '{value}')")


def _decode(hexstring: Any) -> CTransaction:
    try:
        return CTransaction.deserialize(bytes.fromhex(hexstring))
    except Exception:
        raise RpcFailure(-22, "TX decode failed. Make sure the tx has at least one input.") from None


def _is_dust(out: CTxOut) -> bool:
    script = bytes(out.scriptPubKey)
    if script[:1] == bytes([OP_RETURN]):
        return False
    witness = script_type(script).startswith("witness")
    spend_size = 32 + 4 + 1 + (107 // 4 if witness else 107) + 4
    size = len(out.serialize()) + spend_size
    return out.nValue < size * DUST_RELAY_SAT_PER_KVB // 1000


_DECIMAL = re.compile(r'"\\u0000DEC:(-?[0-9.]+)"')


def dumps(payload: Any) -> bytes:
    """JSON with Decimal amounts as bare numbers, as bitcoind prints them (never through float)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"\x00DEC:{value:f}"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [mark(v) for v in value]
        return value

    return _DECIMAL.sub(r"\1", json.dumps(mark(payload))).encode()


def _handler_for(node: FakeBitcoinNode) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{node.user}:{node.password}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Authorization") != expected:
                self._send(401, b"", {"WWW-Authenticate": 'Basic realm="jsonrpc"'})
                return
            try:
                request = json.loads(body)
            except ValueError:
                self._send(
                    500,
                    dumps({"result": None, "error": {"code": -32700, "message": "Parse error"}, "id": None}),
                )
                return
            method, params, req_id = request.get("method", ""), request.get("params") or [], request.get("id")
            node.calls.append(method)
            fault = node.take_fault(method)
            if fault and not fault.after_effect and self._fail(fault, req_id):
                return
            status, reply = self._answer(method, params, req_id)
            if fault and fault.after_effect and self._fail(fault, req_id):
                return
            self._send(status, dumps(reply))

        def _answer(self, method: str, params: list[Any], req_id: Any) -> tuple[int, dict[str, Any]]:
            try:
                return 200, {"result": node.dispatch(method, params), "error": None, "id": req_id}
            except RpcFailure as failure:
                status = 404 if failure.code == -32601 else 500
                error = {"code": failure.code, "message": failure.message}
                return status, {"result": None, "error": error, "id": req_id}

        def _fail(self, fault: Fault, req_id: Any) -> bool:
            if fault.kind == "timeout":
                time.sleep(fault.delay or 2.0)
                self.close_connection = True
                return True
            if fault.kind == "disconnect":
                self.close_connection = True
                return True
            if fault.kind == "http500":
                self._send(500, b"<html>Internal Server Error</html>", {"Content-Type": "text/html"})
                return True
            if fault.kind == "http503":
                self._send(503, b"Work queue depth exceeded", {"Content-Type": "text/plain"})
                return True
            error = {"code": fault.code, "message": fault.message}
            self._send(500, dumps({"result": None, "error": error, "id": req_id}))
            return True

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for key, value in ({"Content-Type": "application/json"} | (headers or {})).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def funding_tx(outputs: list[tuple[bytes, int]], tag: int = 0) -> CTransaction:
    """A test-made transaction paying `outputs` (script, sats) from an outpoint nobody knows.

    The node mines it without checking its input, like a block from elsewhere; what spends its outputs
    is checked in full.
    """
    tx_in = CTxIn(COutPoint(tag.to_bytes(32, "little"), 0), CScript([b"test funding"]), 0xFFFFFFFF)
    return CTransaction([tx_in], [CTxOut(value, CScript(script)) for script, value in outputs], 0, 2)
