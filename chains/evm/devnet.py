"""A local anvil node and the test contracts: start/stop the node, compile once, deploy, drive the chain."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import eth_abi
from eth_utils import keccak, to_checksum_address

from chains.base import ChainError
from chains.evm.config import EvmNetworkConfig
from chains.evm.rpc import JsonRpc

REPO_ROOT = Path(__file__).resolve().parents[2]
ANVIL_BIN = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLC_PACKAGE = REPO_ROOT / "node_modules" / "solc" / "package.json"
COMPILE_CACHE = REPO_ROOT / "var" / "solc-cache"
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")
# The local anvil as a network (its RPC URL is each node's own; tests and benchmarks `replace` it).
ANVIL = EvmNetworkConfig(
    name="anvil",
    chain_id=31337,
    confirmations=2,
    eip1559=True,
    poa=False,
    native_symbol="ETH",
    traces=True,
    max_batch_blocks=1000,
    rpc_url="http://127.0.0.1:8545",
)


class DevnetError(ChainError):
    """The local node or the contract toolchain did not behave (missing binary, failed start, failed tx)."""


def anvil_available() -> bool:
    return ANVIL_BIN.is_file() and os.access(ANVIL_BIN, os.X_OK)


class Anvil:
    """One anvil process (on a free port unless `port` is given). A context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        port: int = 0,
        no_mining: bool = False,
        block_time: float | None = None,
        gas_limit: int | None = None,
        accounts: int = 10,
        balance_eth: int = 10_000,
        mnemonic: str = ANVIL_MNEMONIC,
        steps_tracing: bool = False,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
    ) -> None:
        self.chain_id = chain_id
        self.args = ["--port", str(port), "--host", "127.0.0.1", "--chain-id", str(chain_id)]
        self.args += ["--accounts", str(accounts), "--balance", str(balance_eth), "--mnemonic", mnemonic]
        if no_mining:
            self.args.append("--no-mining")
        if block_time is not None:
            self.args += ["--block-time", str(block_time)]
        if gas_limit is not None:
            self.args += ["--gas-limit", str(gas_limit)]
        if steps_tracing:
            self.args.append("--steps-tracing")
        self.args += list(extra_args)
        self.mnemonic = mnemonic
        self.startup_timeout = startup_timeout
        self.url = ""
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._rpc: JsonRpc | None = None
        self._accounts: list[str] | None = None

    # --- process -------------------------------------------------------------------------------

    def start(self) -> Anvil:
        if not anvil_available():
            raise DevnetError(f"anvil binary not found at {ANVIL_BIN} (run `npm ci` in the repo root)")
        # anvil logs every RPC call to stdout: a file never fills up the way an unread pipe would.
        self._log = tempfile.NamedTemporaryFile(prefix="anvil-", suffix=".log", delete=False)  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(ANVIL_BIN), *self.args], stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(Path(self._log.name).read_text(errors="replace"))
            if match:
                self.port = int(match.group(2))
                self.url = f"http://{match.group(1)}:{self.port}"
                self._rpc = JsonRpc(self.url, timeout=(2.0, 60.0))
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.02)
        output = Path(self._log.name).read_text(errors="replace")[-2000:]
        self.stop()
        raise DevnetError(f"anvil did not start: {output}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        if self._log is not None:
            self._log.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)
            self._log = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- RPC -----------------------------------------------------------------------------------

    @property
    def rpc(self) -> JsonRpc:
        if self._rpc is None:
            raise DevnetError("anvil is not running")
        return self._rpc

    @property
    def accounts(self) -> list[str]:
        """The unlocked dev accounts (derived from the mnemonic at m/44'/60'/0'/0/i)."""
        if self._accounts is None:
            self._accounts = [to_checksum_address(a) for a in self.rpc.call("eth_accounts")]
        return self._accounts

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def mine(self, blocks: int = 1) -> None:
        self.rpc.call("anvil_mine", [hex(blocks)])

    def set_balance(self, address: str, wei: int) -> None:
        self.rpc.call("anvil_setBalance", [address, hex(wei)])

    def balance(self, address: str) -> int:
        return int(self.rpc.call("eth_getBalance", [address, "latest"]), 16)

    def set_automine(self, enabled: bool) -> None:
        self.rpc.call("evm_setAutomine", [enabled])

    def drop_pending(self) -> None:
        self.rpc.call("anvil_dropAllTransactions")

    def snapshot(self) -> str:
        return self.rpc.call("evm_snapshot")

    def revert(self, snapshot_id: str) -> bool:
        return bool(self.rpc.call("evm_revert", [snapshot_id]))

    def reorg(self, depth: int, replacements: Sequence[tuple[dict[str, Any], int]] = ()) -> None:
        """Replace the last `depth` blocks with new ones holding `replacements` (tx, block offset) only."""
        pairs = [[_hex_tx(tx), offset] for tx, offset in replacements]
        self.rpc.call("anvil_reorg", [depth, pairs])

    def rollback(self, depth: int) -> None:
        """Drop the last `depth` blocks; their transactions are gone (not back in the mempool)."""
        self.rpc.call("anvil_rollback", [depth])

    def send(self, tx: dict[str, Any], *, wait: bool = True) -> str:
        """eth_sendTransaction from an unlocked account; waits for the receipt when `wait` (automine)."""
        txid = self.rpc.call("eth_sendTransaction", [_hex_tx(tx)])
        if wait:
            self.wait_receipt(txid)
        return txid

    def wait_receipt(self, txid: str, timeout: float = 10.0) -> dict[str, Any]:
        return wait_receipt(self.rpc, txid, timeout)

    def transact(
        self,
        contract: DeployedContract,
        function: str,
        *args: Any,
        sender: str | None = None,
        value: int = 0,
        gas: int | None = None,
        wait: bool = True,
    ) -> str:
        """Call a contract function in a transaction; returns the txid (reverted txs are still mined)."""
        tx: dict[str, Any] = {
            "from": sender or self.accounts[0],
            "to": contract.address,
            "data": encode_call(contract.abi, function, args),
            "value": value,
        }
        if gas is not None:
            tx["gas"] = gas
        return self.send(tx, wait=wait)

    def call(self, contract: DeployedContract, function: str, *args: Any) -> Any:
        """eth_call a view function and decode its outputs (one output is returned bare)."""
        entry = _function_entry(contract.abi, function, len(args))
        request = {"to": contract.address, "data": encode_call(contract.abi, function, args)}
        data = self.rpc.call("eth_call", [request, "latest"])
        types = [_abi_type(o) for o in entry["outputs"]]
        values = eth_abi.decode(types, bytes.fromhex(data[2:]))
        return values[0] if len(values) == 1 else values


def wait_receipt(rpc: JsonRpc, txid: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        receipt = rpc.call("eth_getTransactionReceipt", [txid])
        if receipt is not None:
            return receipt
        if time.monotonic() > deadline:
            raise DevnetError(f"no receipt for {txid} after {timeout}s (is mining off?)")
        time.sleep(0.02)


def _hex_tx(tx: dict[str, Any]) -> dict[str, Any]:
    return {k: hex(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in tx.items()}


# --- compiling and deploying ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeployedContract:
    name: str
    address: str
    abi: list[dict[str, Any]]


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([*CONTRACTS_DIR.glob("*.sol"), CONTRACTS_DIR / "compile.mjs", SOLC_PACKAGE]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:24]


@cache
def compile_contracts() -> dict[str, tuple[list[dict[str, Any]], str]]:
    """{contract name: (abi, creation bytecode hex)}; compiled with solcjs at most once per source hash."""
    target = COMPILE_CACHE / f"{_sources_digest()}.json"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        node = shutil.which("node")
        if node is None:
            raise DevnetError("node (Node.js) is not on PATH: it runs solcjs")
        result = subprocess.run(
            [node, str(CONTRACTS_DIR / "compile.mjs"), str(target)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            raise DevnetError(f"solc failed:\n{result.stderr[-4000:]}")
    artifacts = json.loads(target.read_text())
    return {name: (a["abi"], a["bytecode"]) for name, a in artifacts.items()}


def deploy(node: Any, name: str, args: Sequence[Any] = (), *, sender: str | None = None) -> str:
    """Deploy a compiled test contract; `node` is an Anvil, a JsonRpc or a web3.Web3. Returns the address."""
    rpc = _rpc_of(node)
    abi, bytecode = compile_contracts()[name]
    constructor = next((e for e in abi if e["type"] == "constructor"), {"inputs": []})
    types = [_abi_type(i) for i in constructor["inputs"]]
    data = bytecode + eth_abi.encode(types, list(args)).hex()
    sender = sender or to_checksum_address(rpc.call("eth_accounts")[0])
    txid = rpc.call("eth_sendTransaction", [{"from": sender, "data": data}])
    receipt = wait_receipt(rpc, txid)
    if receipt.get("status") != "0x1" or not receipt.get("contractAddress"):
        raise DevnetError(f"deploying {name} failed: {receipt}")
    return to_checksum_address(receipt["contractAddress"])


def deploy_contract(node: Any, name: str, args: Sequence[Any] = ()) -> DeployedContract:
    return DeployedContract(name, deploy(node, name, args), compile_contracts()[name][0])


def _rpc_of(node: Any) -> JsonRpc:
    if isinstance(node, JsonRpc):
        return node
    if isinstance(node, Anvil):
        return node.rpc
    provider = getattr(node, "provider", None)  # a web3.Web3 over HTTP
    url = getattr(provider, "endpoint_uri", None)
    if url:
        return JsonRpc(str(url))
    raise TypeError(f"cannot reach a node through {node!r}")


# --- ABI encoding for test calls (the scanner decodes by hand in chains/evm/abi.py) ------------


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        raise NotImplementedError("tuple parameters are not used by the test contracts")
    return param["type"]


def _function_entry(abi: list[dict[str, Any]], function: str, arity: int) -> dict[str, Any]:
    for entry in abi:
        if entry.get("type") == "function" and entry["name"] == function and len(entry["inputs"]) == arity:
            return entry
    raise DevnetError(f"no function {function} with {arity} arguments")


def encode_call(abi: list[dict[str, Any]], function: str, args: Sequence[Any]) -> str:
    """Calldata for `function(*args)`; overloads are told apart by their number of arguments."""
    entry = _function_entry(abi, function, len(args))
    types = [_abi_type(i) for i in entry["inputs"]]
    selector = keccak(text=f"{function}({','.join(types)})")[:4]
    return "0x" + selector.hex() + eth_abi.encode(types, list(args)).hex()
