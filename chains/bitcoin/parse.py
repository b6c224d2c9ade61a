"""Raw Bitcoin transactions and blocks to python-bitcoinlib objects, with one error type for bad bytes."""

from __future__ import annotations

import binascii
from io import BytesIO

from bitcoin.core import CBlockHeader, CTransaction, VectorSerializer, b2lx

from chains.base import MalformedData

# Larger than any block Bitcoin Core accepts (4 MB weight): a bigger input is garbage, refused unread.
MAX_RAW_SIZE = 4_000_000


def parse_tx(raw: bytes | str) -> CTransaction:
    """A transaction from its network serialization (bytes or hex); raises MalformedData, nothing else."""
    data = _as_bytes(raw)
    try:
        return CTransaction.deserialize(data)
    except Exception as exc:  # python-bitcoinlib raises struct, value and serialization errors alike
        raise MalformedData(f"not a Bitcoin transaction: {_reason(exc)}") from exc


def parse_block(raw: bytes) -> tuple[CBlockHeader, list[CTransaction]]:
    """The header and transactions of a serialized block; raises MalformedData, nothing else.

    The merkle root is not checked here (python-bitcoinlib's CBlock would hash every transaction twice);
    callers that fetched the block by hash from their own node already trust it.
    """
    data = _as_bytes(raw, limit=MAX_RAW_SIZE * 2)
    stream = BytesIO(data)
    try:
        header = CBlockHeader.stream_deserialize(stream)
        txs = list(VectorSerializer.stream_deserialize(CTransaction, stream))
    except Exception as exc:
        raise MalformedData(f"not a Bitcoin block: {_reason(exc)}") from exc
    if stream.tell() != len(data):
        raise MalformedData(f"{len(data) - stream.tell()} bytes after the block's last transaction")
    return header, txs


def txid(tx: CTransaction) -> str:
    """The transaction id in the usual display (byte-reversed hex) order."""
    return b2lx(tx.GetTxid())


def _as_bytes(raw: bytes | str, limit: int = MAX_RAW_SIZE) -> bytes:
    if isinstance(raw, str):
        text = raw.strip()
        if len(text) > 2 * limit:
            raise MalformedData("the hex is longer than any Bitcoin transaction or block")
        try:
            return binascii.unhexlify(text)
        except (binascii.Error, ValueError) as exc:
            raise MalformedData(f"not hex: {exc}") from exc
    if isinstance(raw, bytes | bytearray | memoryview):
        if len(raw) > limit:
            raise MalformedData("the input is larger than any Bitcoin transaction or block")
        return bytes(raw)
    raise MalformedData(f"expected bytes or hex text, got {type(raw).__name__}")


def _reason(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
