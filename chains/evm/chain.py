"""EvmChain: the Chain protocol for an EVM network over raw JSON-RPC (scan, lookup, token reads)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chains.base import (
    NATIVE_TX_INDEX,
    BlockRef,
    BroadcastResult,
    ChainError,
    Family,
    InvalidTxid,
    Receipt,
    ScanResult,
    SignedTx,
    Standard,
    Transfer,
    TransientChainError,
    TxLookup,
    TxNotFound,
    TxStatus,
    UnreadLog,
    WatchedAddresses,
)
from chains.evm.abi import (
    TRANSFER_TOPIC,
    TRANSFER_TOPICS,
    DecodedTransfer,
    MalformedLog,
    decode_transfer_log,
    decode_unindexed_transfer,
    mentioned_addresses,
    to_checksum,
)
from chains.evm.abi import normalize_address as _normalize_address
from chains.evm.config import EvmNetworkConfig
from chains.evm.rpc import JsonRpc, RpcError
from chains.watchset import AddressSet

_TXID = re.compile(r"0x[0-9a-fA-F]{64}")
_ZERO_PAD = "0" * 24  # the 12 zero bytes in front of an address inside a 32-byte topic
BLOCKS_PER_BATCH = 25  # full blocks per JSON-RPC batch: bounded response size on busy chains
# Parity trace call types that move value to `to` (delegatecall/staticcall carry no value of their own).
_VALUE_CALL_TYPES = frozenset({"call", "callcode"})

IsWatched = Callable[[str], bool]  # takes a lowercase 0x address


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    symbol: str | None
    decimals: int | None
    name: str | None = None


def watched_matcher(watched: WatchedAddresses) -> IsWatched:
    """Membership for lowercase addresses: AddressSet takes raw bytes; other sets get EIP-55 strings."""
    if isinstance(watched, AddressSet):
        contains_key = watched.contains_key
        return lambda address: contains_key(bytes.fromhex(address[2:]))
    return lambda address: to_checksum(address[2:]) in watched


def _everyone(address: str) -> bool:
    return True


class EvmChain:
    """One EVM network. Reads go through a raw JSON-RPC transport; nothing here signs."""

    family = Family.EVM

    def __init__(self, config: EvmNetworkConfig, rpc: JsonRpc | None = None) -> None:
        self.config = config
        self.network = config.name
        self.confirmations = config.confirmations
        self.rpc = rpc or JsonRpc(config.rpc_url)

    # --- addresses and blocks -------------------------------------------------------------------

    def normalize_address(self, address: str) -> str:
        return _normalize_address(address)

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def block_ref(self, number: int) -> BlockRef:
        block = self.rpc.call("eth_getBlockByNumber", [hex(number), False])
        if block is None:
            raise ChainError(f"{self.network}: no block {number} (head is {self.head()})")
        return BlockRef(number, block["hash"], block["parentHash"])

    # --- scanning ---------------------------------------------------------------------------------

    def scan(self, first: int, last: int, watched: WatchedAddresses) -> ScanResult:
        """Token transfers (logs), direct native value and, with traces on, internal native value."""
        if first > last or first < 0:
            raise ValueError(f"empty or negative block range [{first}, {last}]")
        is_watched = watched_matcher(watched)
        skipped: list[str] = []
        logs = self.rpc.call(
            "eth_getLogs",
            [{"fromBlock": hex(first), "toBlock": hex(last), "topics": [list(TRANSFER_TOPICS)]}],
        )
        unread: list[UnreadLog] = []
        transfers = self._log_transfers(logs, is_watched, skipped, unread)
        blocks = self._fetch_blocks(first, last)
        refs = tuple(BlockRef(int(b["number"], 16), b["hash"], b["parentHash"]) for b in blocks)
        _check_same_fork(refs, logs)
        transfers += self._direct_native(blocks, is_watched)
        if self.config.traces:
            for ref in refs:
                transfers += self._internal_native(
                    self.rpc.call("trace_block", [hex(ref.number)]), is_watched
                )
        return ScanResult(first, last, refs, tuple(transfers), tuple(skipped), tuple(unread))

    def _log_transfers(
        self,
        logs: Iterable[dict[str, Any]],
        is_watched: IsWatched,
        skipped: list[str],
        unread: list[UnreadLog],
    ) -> list[Transfer]:
        found: list[Transfer] = []
        network = self.network
        for log in logs:
            if log.get("removed"):
                continue
            topics = log["topics"]
            # Fast path for the bulk of traffic: a well-formed ERC-20 Transfer to someone else is dropped
            # without decoding (the same checks decode_transfer_log makes, so nothing malformed slips by).
            if (
                len(topics) == 3
                and len(log["data"]) == 66
                and topics[0] == TRANSFER_TOPIC
                and topics[1].startswith(_ZERO_PAD, 2)
                and topics[2].startswith(_ZERO_PAD, 2)
                and len(topics[2]) == 66
                and len(topics[1]) == 66
                and not is_watched("0x" + topics[2][26:].lower())
            ):
                continue
            try:
                decoded = self._decode(log)
            except (MalformedLog, ValueError) as exc:
                where = f"{log.get('transactionHash')} log {_int(log.get('logIndex'))} {log.get('address')}"
                skipped.append(f"{where}: {exc}")
                mentions = tuple(a for a in mentioned_addresses(topics, log["data"]) if is_watched(a))
                if mentions:
                    unread.append(_unread_log(log, mentions, str(exc)))
                continue
            for item in decoded:
                if is_watched(item.recipient):
                    found.append(_log_transfer(network, log, item))
        return found

    def _decode(self, log: dict[str, Any]) -> list[DecodedTransfer]:
        """By the log's shape, or as the unindexed Transfer for the contracts known to emit it."""
        if len(log["topics"]) == 1 and log["address"].lower() in self.config.unindexed_transfer_tokens:
            return [decode_unindexed_transfer(log["topics"], log["data"])]
        return decode_transfer_log(log["topics"], log["data"])

    def _fetch_blocks(self, first: int, last: int) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for start in range(first, last + 1, BLOCKS_PER_BATCH):
            numbers = range(start, min(start + BLOCKS_PER_BATCH, last + 1))
            batch = self.rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
            for number, block in zip(numbers, batch, strict=True):
                if block is None:
                    raise TransientChainError(f"{self.network}: block {number} not available yet")
                blocks.append(block)
        return blocks

    def _direct_native(self, blocks: Sequence[dict[str, Any]], is_watched: IsWatched) -> list[Transfer]:
        candidates = [
            tx
            for block in blocks
            for tx in block["transactions"]
            if tx.get("to") and tx["value"] != "0x0" and is_watched(tx["to"].lower())
        ]
        if not candidates:
            return []
        # A reverted transaction keeps its value field but moved nothing: only the receipt tells.
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in candidates])
        return [
            _native_transfer(self.network, tx)
            for tx, receipt in zip(candidates, receipts, strict=True)
            if receipt is not None and receipt.get("status") == "0x1"
        ]

    def _internal_native(self, traces: Sequence[dict[str, Any]], is_watched: IsWatched) -> list[Transfer]:
        found: list[Transfer] = []
        for position, trace, recipient, value in _value_traces(traces):
            if is_watched(recipient.lower()):
                found.append(
                    Transfer(
                        network=self.network,
                        txid=trace["transactionHash"],
                        index=NATIVE_TX_INDEX - 1 - position,
                        block_number=trace["blockNumber"],
                        block_hash=trace["blockHash"],
                        sender=to_checksum(_sender_of(trace)[2:].lower()),
                        recipient=to_checksum(recipient[2:].lower()),
                        standard=Standard.NATIVE,
                        amount=value,
                    )
                )
        return found

    # --- claim lookup -----------------------------------------------------------------------------

    def lookup_tx(self, txid: str, watched: WatchedAddresses | None = None) -> TxLookup:
        if not isinstance(txid, str) or not _TXID.fullmatch(txid.strip()):
            raise InvalidTxid(f"not an EVM transaction id (0x and 64 hex digits): {txid!r}")
        txid = txid.strip().lower()
        tx = self.rpc.call("eth_getTransactionByHash", [txid])
        if tx is None:
            raise TxNotFound(f"{self.network}: no transaction {txid}")
        is_watched = watched_matcher(watched) if watched is not None else _everyone
        if tx.get("blockNumber") is None:
            native = [_native_transfer(self.network, tx)] if _moves_value(tx, is_watched) else []
            return TxLookup(self.network, txid, TxStatus.PENDING, None, None, 0, tuple(native))
        receipt = self.rpc.call("eth_getTransactionReceipt", [txid])
        if receipt is None:  # mined between the two calls on a node that lags on receipts
            raise TransientChainError(f"{self.network}: receipt of {txid} not available yet")
        number = int(receipt["blockNumber"], 16)
        confirmations = max(0, self.head() - number + 1)
        if receipt.get("status") != "0x1":
            return TxLookup(self.network, txid, TxStatus.FAILED, number, receipt["blockHash"], confirmations)
        transfers = self._log_transfers(receipt["logs"], is_watched, [], [])
        if _moves_value(tx, is_watched):
            transfers.insert(0, _native_transfer(self.network, tx, receipt["blockHash"]))
        if self.config.traces:
            transfers += self._internal_native(self.rpc.call("trace_transaction", [txid]), is_watched)
        return TxLookup(
            self.network,
            txid,
            TxStatus.SUCCESS,
            number,
            receipt["blockHash"],
            confirmations,
            tuple(transfers),
        )

    def receipt(self, txid: str) -> Receipt | None:
        receipt = self.rpc.call("eth_getTransactionReceipt", [txid])
        if receipt is None:
            if self.rpc.call("eth_getTransactionByHash", [txid]) is None:
                return None
            return Receipt(txid, TxStatus.PENDING, None, None, 0)
        number = int(receipt["blockNumber"], 16)
        status = TxStatus.SUCCESS if receipt.get("status") == "0x1" else TxStatus.FAILED
        price = receipt.get("effectiveGasPrice")
        fee = int(receipt["gasUsed"], 16) * int(price, 16) if price else None
        return Receipt(txid, status, number, receipt["blockHash"], max(0, self.head() - number + 1), fee)

    def broadcast(self, signed: SignedTx) -> BroadcastResult:
        from chains.evm.broadcast import send_raw  # the write side; imported late to keep reads light

        return send_raw(self.rpc, signed)

    # --- account reads ----------------------------------------------------------------------------

    def nonce(self, address: str) -> int:
        """The account's next nonce as of the latest block (mined transactions only)."""
        return int(self.rpc.call("eth_getTransactionCount", [_normalize_address(address), "latest"]), 16)

    def balance(self, address: str) -> int:
        """The account's native balance in wei, as of the latest block."""
        return int(self.rpc.call("eth_getBalance", [_normalize_address(address), "latest"]), 16)

    def account_state(self, address: str) -> tuple[int, int]:
        """(balance in wei, next nonce) as of one block, so a transaction mined in between is seen by both."""
        block = hex(self.head())
        address = _normalize_address(address)
        balance, nonce = self.rpc.batch(
            [("eth_getBalance", [address, block]), ("eth_getTransactionCount", [address, block])]
        )
        return int(balance, 16), int(nonce, 16)

    def gas_price(self) -> int:
        """The node's legacy gas price in wei (what a transfer costs per gas now)."""
        return int(self.rpc.call("eth_gasPrice"), 16)

    # --- token reads ------------------------------------------------------------------------------

    def is_contract(self, address: str) -> bool:
        code = self.rpc.call("eth_getCode", [_normalize_address(address), "latest"])
        return bool(code) and code != "0x"

    def token_metadata(self, contract: str) -> TokenMetadata:
        """symbol/decimals/name via eth_call; None for each one the token lacks or answers oddly."""
        contract = _normalize_address(contract)
        return TokenMetadata(
            symbol=_decode_text(self._try_call(contract, "0x95d89b41")),
            decimals=_decode_small_uint(self._try_call(contract, "0x313ce567"), limit=255),
            name=_decode_text(self._try_call(contract, "0x06fdde03")),
        )

    def token_balance(
        self, contract: str | None, holder: str, standard: Standard, token_id: int | None = None
    ) -> int:
        """What `holder` has: wei (native, contract None), token units (ERC-20/1155), 1 or 0 (ERC-721)."""
        holder = _normalize_address(holder)
        if standard == Standard.NATIVE:
            return int(self.rpc.call("eth_getBalance", [holder, "latest"]), 16)
        if contract is None:
            raise ValueError("a token balance needs the contract")
        contract = _normalize_address(contract)
        word = holder[2:].lower().rjust(64, "0")
        if standard == Standard.ERC20:
            return _decode_uint(self._call(contract, "0x70a08231" + word))
        if token_id is None:
            raise ValueError(f"an {standard} balance needs the token id")
        if standard == Standard.ERC721:
            owner = self._try_call(contract, "0x6352211e" + f"{token_id:064x}")
            return int(owner is not None and len(owner) == 66 and owner[26:].lower() == holder[2:].lower())
        return _decode_uint(self._call(contract, "0x00fdd58e" + word + f"{token_id:064x}"))

    def _call(self, contract: str, data: str) -> str:
        return self.rpc.call("eth_call", [{"to": contract, "data": data}, "latest"])

    def _try_call(self, contract: str, data: str) -> str | None:
        try:
            result = self._call(contract, data)
        except RpcError:  # reverted or not implemented
            return None
        return result if result and result != "0x" else None


# --- scanning helpers ---------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return int(value, 16) if isinstance(value, str) else value


def _log_transfer(network: str, log: dict[str, Any], item: DecodedTransfer) -> Transfer:
    return Transfer(
        network=network,
        txid=log["transactionHash"],
        index=int(log["logIndex"], 16),
        sub_index=item.sub_index,
        block_number=_int(log.get("blockNumber")),
        block_hash=log.get("blockHash"),
        sender=to_checksum(item.sender[2:]),
        recipient=to_checksum(item.recipient[2:]),
        standard=item.standard,
        amount=item.amount,
        contract=to_checksum(log["address"][2:].lower()),
        token_id=item.token_id,
    )


def _unread_log(log: dict[str, Any], mentions: tuple[str, ...], reason: str) -> UnreadLog:
    return UnreadLog(
        txid=log["transactionHash"],
        index=int(log["logIndex"], 16),
        block_number=_int(log.get("blockNumber")),
        block_hash=log.get("blockHash"),
        contract=to_checksum(log["address"][2:].lower()),
        topics=tuple(log["topics"]),
        data=log["data"],
        mentions=mentions,
        reason=reason[:200],
    )


def _moves_value(tx: dict[str, Any], is_watched: IsWatched) -> bool:
    return bool(tx.get("to")) and int(tx["value"], 16) > 0 and is_watched(tx["to"].lower())


def _native_transfer(network: str, tx: dict[str, Any], block_hash: str | None = None) -> Transfer:
    return Transfer(
        network=network,
        txid=tx["hash"],
        index=NATIVE_TX_INDEX,
        block_number=_int(tx.get("blockNumber")),
        block_hash=tx.get("blockHash") or block_hash,
        sender=to_checksum(tx["from"][2:].lower()),
        recipient=to_checksum(tx["to"][2:].lower()),
        standard=Standard.NATIVE,
        amount=int(tx["value"], 16),
    )


def _sender_of(trace: dict[str, Any]) -> str:
    action = trace["action"]
    return action.get("from") or action.get("address")


def _value_traces(traces: Sequence[dict[str, Any]]) -> Iterable[tuple[int, dict[str, Any], str, int]]:
    """(position in its tx, trace, recipient, wei) for each internal value move that took effect.

    The top-level call is the transaction's own value (seen in the block); a move counts only if neither it
    nor any call above it failed, because a failed frame undoes everything beneath it.
    """
    failed: dict[str, set[tuple[int, ...]]] = {}
    for trace in traces:
        if trace.get("error"):
            failed.setdefault(trace["transactionHash"], set()).add(tuple(trace["traceAddress"]))
    positions: dict[str, int] = {}
    for trace in traces:
        txid = trace.get("transactionHash")
        if txid is None:  # block rewards on some clients
            continue
        position = positions.get(txid, 0)
        positions[txid] = position + 1
        path = tuple(trace["traceAddress"])
        if not path:
            continue
        move = _value_move(trace)
        if move is None:
            continue
        failed_paths = failed.get(txid, ())
        if any(path[:depth] in failed_paths for depth in range(len(path) + 1)):
            continue
        yield position, trace, move[0], move[1]


def _value_move(trace: dict[str, Any]) -> tuple[str, int] | None:
    action, kind = trace["action"], trace.get("type")
    if kind == "call" and action.get("callType", "call") in _VALUE_CALL_TYPES:
        value = int(action.get("value") or "0x0", 16)
        return (action["to"], value) if value > 0 else None
    if kind == "suicide":  # selfdestruct sends the whole balance to refundAddress
        value = int(action.get("balance") or "0x0", 16)
        return (action["refundAddress"], value) if value > 0 else None
    return None


def _check_same_fork(refs: Sequence[BlockRef], logs: Iterable[dict[str, Any]]) -> None:
    """Logs and blocks come from separate calls; a reorg between them would mix two forks."""
    hashes = {ref.number: ref.hash for ref in refs}
    for number, block_hash in {(log.get("blockNumber"), log.get("blockHash")) for log in logs}:
        height = _int(number)
        if height in hashes and block_hash != hashes[height]:
            raise TransientChainError(f"reorg during scan at block {height}: retry the range")


# --- eth_call answers ---------------------------------------------------------------------------


def _decode_uint(data: str | None) -> int:
    if not data or len(data) < 66:
        raise ChainError(f"not a uint256 answer: {data!r}")
    return int(data[2:66], 16)


def _decode_small_uint(data: str | None, limit: int) -> int | None:
    if not data or len(data) < 66:
        return None
    value = int(data[2:66], 16)
    return value if value <= limit else None


def _decode_text(data: str | None) -> str | None:
    """An ABI string, or a bytes32 (old tokens such as MKR); None when neither fits."""
    if not data:
        return None
    raw = bytes.fromhex(data[2:])
    if len(raw) == 32:
        text = raw.rstrip(b"\0")
    elif len(raw) >= 64:
        offset = int.from_bytes(raw[:32], "big")
        if offset + 32 > len(raw):
            return None
        length = int.from_bytes(raw[offset : offset + 32], "big")
        if offset + 32 + length > len(raw):
            return None
        text = raw[offset + 32 : offset + 32 + length]
    else:
        return None
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return decoded if decoded.isprintable() else None


def lookup_as_json(lookup: TxLookup) -> dict[str, Any]:
    """The claim lookup as plain JSON (what `manage.py inspect_tx` prints)."""
    return {
        "network": lookup.network,
        "txid": lookup.txid,
        "status": str(lookup.status),
        "block": lookup.block_number,
        "transfers": [
            {
                "standard": str(t.standard),
                "contract": t.contract,
                "from": t.sender,
                "to": t.recipient,
                "amount": t.amount,
                "token_id": t.token_id,
                "log_index": t.index if t.index >= 0 else None,
            }
            for t in lookup.transfers
        ],
    }
