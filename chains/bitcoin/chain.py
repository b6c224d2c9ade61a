"""BitcoinChain: the Chain protocol for a Bitcoin network over Bitcoin Core's RPC (scan, lookup, send, fees).

The node must run with -txindex (getrawtransaction of confirmed transactions) and keep undo data
(getblock verbosity 3 gives every input's spent output, hence the senders, without extra calls).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chains.base import (
    BlockRef,
    BroadcastOutcome,
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
    WatchedAddresses,
)
from chains.bitcoin.address import normalize_address, script_to_address
from chains.bitcoin.describe import tokens_by_output
from chains.bitcoin.network import BitcoinNetwork
from chains.bitcoin.parse import parse_tx
from chains.bitcoin.rpc import BitcoinRpc, RpcError, SendOutcome, btc_to_sats, classify_reason

_TXID = re.compile(r"[0-9a-f]{64}")
GENESIS_PARENT = "00" * 32


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """How a refund's fee rate is chosen from the node's estimate (all sat/vB, integers).

    floor: never below it (the node's estimate can dip under what relays in practice);
    fallback: used when the node has no estimate yet (fresh node, regtest);
    ceiling: never above it, so a broken estimator cannot burn a deposit in fees.
    """

    target_blocks: int = 6
    floor: int = 2
    fallback: int = 10
    ceiling: int = 500


class BitcoinChain:
    family = Family.BITCOIN

    def __init__(
        self,
        network: BitcoinNetwork,
        rpc: BitcoinRpc,
        *,
        confirmations: int = 3,
        fee_policy: FeePolicy | None = None,
    ) -> None:
        self.network = network.name
        self.params = network
        self.rpc = rpc
        self.confirmations = confirmations
        self.fee_policy = fee_policy or FeePolicy()

    # --- reads -----------------------------------------------------------------------------------

    def normalize_address(self, address: str) -> str:
        return normalize_address(address, self.params)

    def head(self) -> int:
        return self.rpc.getblockcount()

    def block_ref(self, number: int) -> BlockRef:
        header = self.rpc.getblockheader(self.rpc.getblockhash(number))
        return _block_ref(header)

    def scan(self, first: int, last: int, watched: WatchedAddresses) -> ScanResult:
        """Every output paying a watched address in blocks [first, last], one Transfer per output."""
        refs: list[BlockRef] = []
        transfers: list[Transfer] = []
        skipped: list[str] = []
        for height in range(first, last + 1):
            block = self.rpc.getblock_with_prevouts(self.rpc.getblockhash(height))
            ref = _block_ref(block)
            if ref.number != height:
                raise ChainError(f"asked for block {height}, the node returned {ref.number}")
            if refs and ref.parent_hash != refs[-1].hash:
                # the chain moved under us between two calls: the caller retries the whole range
                raise TransientChainError(
                    f"reorg during scan: block {height} does not follow {refs[-1].hash}"
                )
            refs.append(ref)
            for tx in block["tx"]:
                transfers.extend(self._tx_transfers(tx, ref.number, ref.hash, watched, skipped))
        return ScanResult(first, last, tuple(refs), tuple(transfers), tuple(skipped))

    def lookup_tx(self, txid: str, watched: WatchedAddresses | None = None) -> TxLookup:
        """What the chain says about a pasted txid; transfers limited to `watched` when given."""
        txid = _check_txid(txid)
        tx = self.rpc.getrawtransaction(txid, 2)
        block_hash = tx.get("blockhash")
        confirmations = int(tx.get("confirmations", 0)) if block_hash else 0
        height = None
        if block_hash:
            height = int(self.rpc.getblockheader(block_hash)["height"])
        transfers = self._tx_transfers(tx, height, block_hash, watched, [])
        status = TxStatus.SUCCESS if block_hash else TxStatus.PENDING
        return TxLookup(
            self.network, txid, status, height, block_hash, max(confirmations, 0), tuple(transfers)
        )

    def raw_transaction(self, txid: str) -> str:
        """The transaction's raw hex as the node serves it (for inspecting what it carries)."""
        return str(self.rpc.getrawtransaction(_check_txid(txid), 1)["hex"])

    def receipt(self, txid: str) -> Receipt | None:
        try:
            tx = self.rpc.getrawtransaction(_check_txid(txid), 2)
        except TxNotFound:
            return None
        fee = btc_to_sats(tx["fee"]) if "fee" in tx else None
        block_hash = tx.get("blockhash")
        if not block_hash or int(tx.get("confirmations", 0)) < 1:
            return Receipt(txid, TxStatus.PENDING, None, None, 0, fee)
        height = int(self.rpc.getblockheader(block_hash)["height"])
        return Receipt(txid, TxStatus.SUCCESS, height, block_hash, int(tx["confirmations"]), fee)

    # --- fees ------------------------------------------------------------------------------------

    def fee_rate(self) -> int:
        """sat/vB for a refund: the node's estimate, rounded up, clamped to [floor, ceiling]."""
        policy = self.fee_policy
        estimate = self.rpc.estimatesmartfee(policy.target_blocks)
        rate = math.ceil(estimate.sat_per_vb) if estimate else policy.fallback
        return min(max(rate, policy.floor), policy.ceiling)

    # --- writes ----------------------------------------------------------------------------------

    def broadcast(self, signed: SignedTx) -> BroadcastResult:
        """testmempoolaccept, then sendrawtransaction; every answer classified, none raised.

        A failure to reach the node before the send raises TransientChainError: nothing was sent, the
        caller may retry the same bytes. Any failure during the send is UNCLEAR: check the chain.
        """
        txid = signed.txid
        try:
            check = self.rpc.testmempoolaccept(signed.raw)
        except RpcError as exc:  # e.g. -22: bytes the node cannot even decode
            return BroadcastResult(BroadcastOutcome.REJECTED, txid, exc.message)
        if not check.allowed:
            outcome = _outcome(check.reject_reason)
            if outcome is not BroadcastOutcome.UNCLEAR:
                return BroadcastResult(outcome, txid, check.reject_reason)
            return self._missing_inputs(txid, check.reject_reason)
        try:
            sent = self.rpc.sendrawtransaction(signed.raw)
        except TransientChainError as exc:
            return BroadcastResult(BroadcastOutcome.UNCLEAR, txid, f"no clear answer to the send: {exc}")
        except ChainError as exc:
            return BroadcastResult(BroadcastOutcome.UNCLEAR, txid, f"unexpected answer to the send: {exc}")
        if sent.outcome is SendOutcome.SENT:
            if sent.txid != txid:
                return BroadcastResult(BroadcastOutcome.UNCLEAR, txid, f"node returned txid {sent.txid}")
            return BroadcastResult(BroadcastOutcome.ACCEPTED, txid)
        if sent.outcome is SendOutcome.MISSING_INPUTS:
            return self._missing_inputs(txid, sent.reason)
        return BroadcastResult(_outcome(sent.reason, sent.outcome), txid, sent.reason)

    def _missing_inputs(self, txid: str, reason: str) -> BroadcastResult:
        # Spent inputs may have been spent by this very transaction, already mined: ask before concluding.
        try:
            found = self.receipt(txid)
        except ChainError as exc:
            return BroadcastResult(BroadcastOutcome.UNCLEAR, txid, f"{reason}; lookup failed: {exc}")
        if found is not None:
            return BroadcastResult(BroadcastOutcome.ALREADY_KNOWN, txid, f"{reason}; the node has the tx")
        return BroadcastResult(BroadcastOutcome.UNCLEAR, txid, f"{reason}; inputs spent or unknown")

    # --- mapping ---------------------------------------------------------------------------------

    def _tx_transfers(
        self,
        tx: dict[str, Any],
        height: int | None,
        block_hash: str | None,
        watched: WatchedAddresses | None,
        skipped: list[str],
    ) -> list[Transfer]:
        paid = [(out, addr) for out in tx["vout"] if (addr := self._address(out["scriptPubKey"])) is not None]
        hits = [(out, addr) for out, addr in paid if watched is None or addr in watched]
        if not hits:
            return []
        tokens = self._tokens(tx, skipped)
        senders, complete = self._senders(tx["vin"])
        sender = senders[0] if complete and len(senders) == 1 else None
        return [
            Transfer(
                network=self.network,
                txid=tx["txid"],
                index=int(out["n"]),
                block_number=height,
                block_hash=block_hash,
                sender=sender,
                recipient=addr,
                standard=Standard.NATIVE,
                amount=btc_to_sats(out["value"]),
                senders=senders,
                tokens=tuple(tokens.get(int(out["n"]), ())),
            )
            for out, addr in hits
        ]

    def _address(self, script_pub_key: dict[str, Any]) -> str | None:
        # Core's own `address` is canonical; decode the script only where the node gives none.
        address = script_pub_key.get("address")
        if address:
            return str(address)
        return script_to_address(bytes.fromhex(script_pub_key["hex"]), self.params)

    def _senders(self, vin: Sequence[dict[str, Any]]) -> tuple[tuple[str, ...], bool]:
        """Distinct input addresses in input order, and whether every input's address is known."""
        addresses: list[str] = []
        complete = True
        for tx_in in vin:
            prevout = tx_in.get("prevout")
            address = self._address(prevout["scriptPubKey"]) if prevout else None
            if address is None:
                complete = False
            elif address not in addresses:
                addresses.append(address)
        return tuple(addresses), complete

    def _tokens(self, tx: dict[str, Any], skipped: list[str]) -> dict[int, list[dict[str, Any]]]:
        try:
            return tokens_by_output(parse_tx(tx["hex"]))
        except Exception as exc:  # a decoder bug must not hide the deposit itself
            skipped.append(f"{tx['txid']}: token decoding failed: {type(exc).__name__}: {exc}"[:300])
            return {}


def _block_ref(block: dict[str, Any]) -> BlockRef:
    return BlockRef(
        int(block["height"]), str(block["hash"]), str(block.get("previousblockhash", GENESIS_PARENT))
    )


def _check_txid(txid: str) -> str:
    text = txid.strip().lower()
    if not _TXID.fullmatch(text):
        raise InvalidTxid(f"not a Bitcoin txid (64 hex characters): {txid!r}")
    return text


def _outcome(reason: str, outcome: SendOutcome | None = None) -> BroadcastOutcome:
    kind = outcome or classify_reason(reason)
    return {
        SendOutcome.ALREADY_KNOWN: BroadcastOutcome.ALREADY_KNOWN,
        SendOutcome.MISSING_INPUTS: BroadcastOutcome.UNCLEAR,
        SendOutcome.REJECTED: BroadcastOutcome.REJECTED,
        SendOutcome.SENT: BroadcastOutcome.ACCEPTED,
    }[kind]
