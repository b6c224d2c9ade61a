"""Send signed EVM bytes once and classify the node's answer; look up an unclear send on the chain.

Nothing here retries, re-signs or raises for an answer the node gave: the caller owns the decision, and an
answer that does not prove where the transaction is comes back UNCLEAR, to be checked with
resolve_unclear() before anything else is sent.
"""

from __future__ import annotations

from typing import Protocol

from chains.base import BroadcastOutcome, BroadcastResult, ChainError, Receipt, SignedTx
from chains.evm.rpc import JsonRpc, RpcError

# Lower-case fragments of node error messages (geth, erigon, reth/anvil, nethermind, besu, openethereum),
# checked in order: the first match decides. Anything not listed is UNCLEAR, never REJECTED, because an
# unknown answer does not prove the bytes are absent from every pool.
CLASSIFICATION: tuple[tuple[str, BroadcastOutcome], ...] = (
    # The pool already holds exactly these bytes: as good as accepted, and re-sending is harmless.
    ("already known", BroadcastOutcome.ALREADY_KNOWN),  # geth, erigon
    ("known transaction", BroadcastOutcome.ALREADY_KNOWN),  # besu, older geth ("known transaction: <hash>")
    ("already imported", BroadcastOutcome.ALREADY_KNOWN),  # anvil/reth, openethereum
    ("alreadyknown", BroadcastOutcome.ALREADY_KNOWN),  # nethermind
    ("already in the pool", BroadcastOutcome.ALREADY_KNOWN),
    # The nonce is used: maybe by this very transaction, already mined. Only the chain can tell.
    ("nonce too low", BroadcastOutcome.UNCLEAR),
    ("nonce is too low", BroadcastOutcome.UNCLEAR),  # openethereum
    ("oldnonce", BroadcastOutcome.UNCLEAR),  # nethermind
    # Another transaction holds our nonce in the pool: ours, sent earlier with other fees, or a stranger.
    ("replacement transaction underpriced", BroadcastOutcome.UNCLEAR),
    ("replacement_underpriced", BroadcastOutcome.UNCLEAR),  # besu
    ("replacement fee too low", BroadcastOutcome.UNCLEAR),
    # The sender lacks the balance now: funding it fixes that, and the same bytes can be sent again.
    ("insufficient funds", BroadcastOutcome.UNFUNDED),
    ("upfront_cost_exceeds_balance", BroadcastOutcome.UNFUNDED),  # besu
    # The fee the bytes carry is below what the node takes now (fees rose since signing): the same nonce is
    # signed again at today's fees. Never final, or the nonce would be left as a gap.
    ("max fee per gas less than block base fee", BroadcastOutcome.UNDERPRICED),  # anvil/reth
    ("fee cap less than block base fee", BroadcastOutcome.UNDERPRICED),  # geth
    ("transaction underpriced", BroadcastOutcome.UNDERPRICED),  # below the pool's minimum, not a replacement
    # The node refused these bytes for a reason resending them will not fix.
    ("intrinsic gas too low", BroadcastOutcome.REJECTED),
    ("gas is too low", BroadcastOutcome.REJECTED),  # openethereum
    ("exceeds block gas limit", BroadcastOutcome.REJECTED),
    ("gas_limit > env.block.gas_limit", BroadcastOutcome.REJECTED),  # anvil/reth "intrinsic gas too high"
    ("exceeds current gas limit", BroadcastOutcome.REJECTED),  # openethereum
    ("invalid chain id", BroadcastOutcome.REJECTED),
    ("invalid sender", BroadcastOutcome.REJECTED),
    ("nonce too high", BroadcastOutcome.REJECTED),  # a gap: the database's nonce is wrong, a human looks
)


def classify_node_error(message: str) -> BroadcastOutcome:
    """The outcome of an eth_sendRawTransaction error message (UNCLEAR when not in the table)."""
    lowered = message.lower()
    for fragment, outcome in CLASSIFICATION:
        if fragment in lowered:
            return outcome
    return BroadcastOutcome.UNCLEAR


def send_raw(rpc: JsonRpc, signed: SignedTx) -> BroadcastResult:
    """eth_sendRawTransaction of the stored bytes, classified. Never raises for a node answer."""
    try:
        answered = rpc.call("eth_sendRawTransaction", ["0x" + signed.raw.hex()])
    except RpcError as exc:
        return BroadcastResult(classify_node_error(exc.message), signed.txid, exc.message)
    except ChainError as exc:
        # Timeouts, dropped connections and 5xx: the bytes may have reached the node before it failed.
        return BroadcastResult(BroadcastOutcome.UNCLEAR, signed.txid, str(exc))
    if not isinstance(answered, str) or answered.lower() != signed.txid.lower():
        return BroadcastResult(BroadcastOutcome.UNCLEAR, signed.txid, f"node answered hash {answered!r}")
    return BroadcastResult(BroadcastOutcome.ACCEPTED, signed.txid)


class ReceiptSource(Protocol):
    def receipt(self, txid: str) -> Receipt | None:
        """The receipt; a PENDING one when only the pool holds the transaction; None when unknown."""
        ...


def resolve_unclear(chain: ReceiptSource, signed: SignedTx) -> Receipt | None:
    """Where the signed transaction is: mined (SUCCESS/FAILED), in the pool (PENDING), or None if unknown.

    None after a "nonce too low" means another transaction took the nonce: never re-sign automatically,
    the refund goes to a human. None after a timeout or 5xx means the bytes may never have arrived:
    re-sending the same bytes is safe (the same hash can be mined only once).
    """
    return chain.receipt(signed.txid)
