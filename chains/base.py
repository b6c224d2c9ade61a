"""The contract every chain adapter keeps: plain domain objects, the chain Protocol and the chain errors.

Nothing here imports Django. Amounts are integers in base units (wei, satoshis, token base units);
addresses are the adapter's canonical form (EIP-55 for EVM, the network's encoding for Bitcoin).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


class Family(enum.StrEnum):
    EVM = "evm"
    BITCOIN = "bitcoin"


class Standard(enum.StrEnum):
    """What kind of value a transfer moves."""

    NATIVE = "native"  # ETH, BNB, BTC ... (on Bitcoin: the output's satoshis)
    ERC20 = "erc20"
    ERC721 = "erc721"
    ERC1155 = "erc1155"


class TxStatus(enum.StrEnum):
    PENDING = "pending"  # in the mempool, not in a block
    SUCCESS = "success"
    FAILED = "failed"  # mined but reverted


# Index conventions for a transfer inside its transaction (part of the deposit's unique key):
#   EVM logs: index = log index (>= 0), sub_index = position inside an ERC-1155 TransferBatch (else 0)
#   EVM native value of the transaction itself: index = NATIVE_TX_INDEX
#   EVM native value moved by an internal call (trace): index = NATIVE_TX_INDEX - 1 - trace position
#   Bitcoin: index = vout, sub_index = 0
NATIVE_TX_INDEX = -1


@dataclass(frozen=True, slots=True)
class Transfer:
    """One movement of value to an address, as the chain recorded it."""

    network: str
    txid: str
    index: int
    block_number: int | None
    block_hash: str | None
    sender: str | None  # None where the chain cannot attribute one (Bitcoin with several input addresses)
    recipient: str
    standard: Standard
    amount: int
    contract: str | None = None  # token contract (EVM); None for native value
    token_id: int | None = None  # ERC-721 / ERC-1155
    sub_index: int = 0
    senders: tuple[str, ...] = ()  # every distinct input address (Bitcoin); empty where not applicable
    tokens: tuple[dict[str, Any], ...] = ()  # token payloads riding on the output (Bitcoin protocols)

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a transfer amount cannot be negative")


@dataclass(frozen=True, slots=True)
class UnreadLog:
    """A log with a transfer topic whose shape no standard decoder reads, that mentions a watched address
    (in a topic or a data word): money may have arrived that nobody can see. Kept raw for a person."""

    txid: str
    index: int
    block_number: int | None
    block_hash: str | None
    contract: str
    topics: tuple[str, ...]
    data: str
    mentions: tuple[str, ...]  # the watched addresses it names, lowercase
    reason: str


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: str
    parent_hash: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Transfers to watched addresses found in the blocks [first, last], with those blocks' hashes."""

    first: int
    last: int
    blocks: tuple[BlockRef, ...]
    transfers: tuple[Transfer, ...]
    skipped: tuple[str, ...] = ()  # reasons for logs or outputs that could not be decoded
    unread: tuple[UnreadLog, ...] = ()  # of those, the ones that mention a watched address


@dataclass(frozen=True, slots=True)
class TxLookup:
    """What the chain says about one transaction a user pasted."""

    network: str
    txid: str
    status: TxStatus
    block_number: int | None
    block_hash: str | None
    confirmations: int
    transfers: tuple[Transfer, ...] = ()


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction: stored before it is broadcast, re-sent byte for byte after a crash."""

    raw: bytes
    txid: str
    nonce: int | None = None  # EVM account nonce; None on Bitcoin
    sender: str | None = None
    fee_cap: int | None = None  # most the transaction can cost, in the native base unit
    extra: dict[str, Any] = field(default_factory=dict)


class BroadcastOutcome(enum.StrEnum):
    ACCEPTED = "accepted"  # the node took it (a fresh send)
    ALREADY_KNOWN = "already_known"  # the node already has exactly these bytes: as good as accepted
    UNCLEAR = "unclear"  # timeout, "nonce too low", 5xx ...: check the chain, never re-sign blindly
    REJECTED = "rejected"  # the node refused the bytes for a reason that will not change on retry
    UNFUNDED = "unfunded"  # the sender cannot pay for them now: fund it, then send the same bytes again
    UNDERPRICED = "underpriced"  # their fee is below what the node takes now: sign the same nonce again


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    outcome: BroadcastOutcome
    txid: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Receipt:
    txid: str
    status: TxStatus
    block_number: int | None
    block_hash: str | None
    confirmations: int
    fee_paid: int | None = None


# --- errors -------------------------------------------------------------------------------------


class ChainError(Exception):
    """Base of every error a chain adapter raises."""


class TransientChainError(ChainError):
    """The node could not answer now (timeout, connection refused, 5xx, rate limit): retry later."""


class RangeTooLarge(TransientChainError):
    """The node refused a block range as too large or too slow: shrink it and try again."""


class InvalidAddress(ChainError, ValueError):
    """The text is not a valid address for the network (format, checksum, prefix, bech32 variant)."""


class InvalidTxid(ChainError, ValueError):
    """The text is not a transaction id of the network's form."""


class TxNotFound(ChainError):
    """The node knows no such transaction (unknown, or from another network)."""


class MalformedData(ChainError, ValueError):
    """Raw bytes the adapter cannot parse (truncated hex, garbage, an oversized payload)."""


# --- the Protocol -------------------------------------------------------------------------------


@runtime_checkable
class Chain(Protocol):
    """A network the system reads and pays on. One instance per configured network."""

    network: str
    family: Family
    confirmations: int

    def normalize_address(self, address: str) -> str:
        """The canonical form of a valid address; raises InvalidAddress."""
        ...

    def head(self) -> int:
        """The number of the newest block."""
        ...

    def block_ref(self, number: int) -> BlockRef:
        """Hash and parent hash of the block at a height (for reorg checks)."""
        ...

    def scan(self, first: int, last: int, watched: WatchedAddresses) -> ScanResult:
        """Every transfer to a watched address in blocks [first, last]."""
        ...

    def lookup_tx(self, txid: str, watched: WatchedAddresses | None = None) -> TxLookup:
        """What a transaction did; transfers limited to watched addresses when given."""
        ...

    def broadcast(self, signed: SignedTx) -> BroadcastResult:
        """Send signed bytes; classify the node's answer, never raise on an unclear one."""
        ...

    def receipt(self, txid: str) -> Receipt | None:
        """The transaction's inclusion and status, or None when the node does not know it."""
        ...


class WatchedAddresses(Protocol):
    """The exchange's deposit addresses of one network family, as a membership test."""

    def __contains__(self, address: object) -> bool: ...

    def __len__(self) -> int: ...
