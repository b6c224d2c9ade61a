"""Hand decoding of transfer events (topics and data) and EIP-55 address checks: no web3 in the hot loop."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import eth_abi
from eth_abi.exceptions import DecodingError
from eth_hash.auto import keccak as keccak256
from eth_utils import keccak

from chains.base import InvalidAddress, Standard

# keccak256 of the event signatures, as they appear in topic 0.
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
TRANSFER_SINGLE_TOPIC = "0x" + keccak(text="TransferSingle(address,address,address,uint256,uint256)").hex()
TRANSFER_BATCH_TOPIC = "0x" + keccak(text="TransferBatch(address,address,address,uint256[],uint256[])").hex()
TRANSFER_TOPICS = (TRANSFER_TOPIC, TRANSFER_SINGLE_TOPIC, TRANSFER_BATCH_TOPIC)

_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")
# Larger batches are legal but no real token sends them; the cap bounds the work a hostile log can cause.
MAX_BATCH_ITEMS = 10_000


@lru_cache(maxsize=1 << 16)
def to_checksum(lower_hex40: str) -> str:
    """EIP-55 form of a lowercase 40-hex-digit body (no 0x). Cached: contracts and senders repeat a lot."""
    digest = keccak256(lower_hex40.encode()).hex()
    # A letter is upper-cased where the digest's nibble is >= 8; "8" <= nibble compares right on hex chars.
    return "0x" + "".join(
        [c.upper() if d >= "8" else c for c, d in zip(lower_hex40, digest[:40], strict=True)]
    )


def normalize_address(address: str) -> str:
    """EIP-55 form. All-lower or all-upper input is accepted; mixed case must carry a correct checksum."""
    if not isinstance(address, str) or not _HEX40.fullmatch(address):
        raise InvalidAddress(f"not a 20-byte hex address: {address!r}")
    body = address[2:]
    checksummed = to_checksum(body.lower())
    if body != body.lower() and body != body.upper() and checksummed != address:
        raise InvalidAddress(f"bad EIP-55 checksum: {address}")
    return checksummed


class MalformedLog(ValueError):
    """A log with a transfer topic whose topic count or data length fits no standard."""


@dataclass(frozen=True, slots=True)
class DecodedTransfer:
    """One transfer decoded from a log; addresses are lowercase 0x-hex (checksummed later, only on a hit)."""

    standard: Standard
    sender: str
    recipient: str
    amount: int
    token_id: int | None
    sub_index: int = 0


def topic_address(topic: str) -> str:
    """The address in an indexed topic (32 bytes, left-padded). Raises MalformedLog on dirty padding."""
    if len(topic) != 66 or topic[2:26].strip("0"):
        raise MalformedLog(f"topic is not an address: {topic}")
    return "0x" + topic[26:].lower()


def _word(data: str, index: int) -> int:
    start = 2 + index * 64
    return int(data[start : start + 64], 16)


def decode_transfer_log(topics: list[str], data: str) -> list[DecodedTransfer]:
    """Decode a Transfer / TransferSingle / TransferBatch log by its shape; raises MalformedLog otherwise."""
    if not topics:
        raise MalformedLog("log without topics")
    topic0 = topics[0].lower()
    data_bytes = (len(data) - 2) // 2
    if topic0 == TRANSFER_TOPIC:
        return [_decode_transfer(topics, data, data_bytes)]
    if topic0 == TRANSFER_SINGLE_TOPIC:
        return [_decode_single(topics, data, data_bytes)]
    if topic0 == TRANSFER_BATCH_TOPIC:
        return _decode_batch(topics, data, data_bytes)
    raise MalformedLog(f"not a transfer topic: {topic0}")


def _decode_transfer(topics: list[str], data: str, data_bytes: int) -> DecodedTransfer:
    # ERC-20 indexes from and to (3 topics, value in data); ERC-721 also indexes the token id (4 topics).
    if len(topics) == 3:
        if data_bytes != 32:
            raise MalformedLog(f"ERC-20 Transfer with {data_bytes} data bytes, expected 32")
        return DecodedTransfer(
            Standard.ERC20, topic_address(topics[1]), topic_address(topics[2]), _word(data, 0), None
        )
    if len(topics) == 4:
        if data_bytes != 0:
            raise MalformedLog(f"ERC-721 Transfer with {data_bytes} data bytes, expected 0")
        token_id = int(topics[3], 16)
        return DecodedTransfer(
            Standard.ERC721, topic_address(topics[1]), topic_address(topics[2]), 1, token_id
        )
    raise MalformedLog(f"Transfer with {len(topics)} topics, expected 3 (ERC-20) or 4 (ERC-721)")


def _decode_single(topics: list[str], data: str, data_bytes: int) -> DecodedTransfer:
    if len(topics) != 4 or data_bytes != 64:
        raise MalformedLog(
            f"TransferSingle with {len(topics)} topics and {data_bytes} data bytes, expected 4 and 64"
        )
    sender, recipient = topic_address(topics[2]), topic_address(topics[3])
    return DecodedTransfer(Standard.ERC1155, sender, recipient, _word(data, 1), _word(data, 0))


def _decode_batch(topics: list[str], data: str, data_bytes: int) -> list[DecodedTransfer]:
    """The rare dynamic arrays go to eth-abi, which bounds-checks every offset and length."""
    if len(topics) != 4 or data_bytes < 128 or data_bytes % 32:
        raise MalformedLog(f"TransferBatch with {len(topics)} topics and {data_bytes} data bytes")
    try:
        ids, values = eth_abi.decode(["uint256[]", "uint256[]"], bytes.fromhex(data[2:]))
    except (DecodingError, ValueError) as error:
        raise MalformedLog(f"TransferBatch arrays do not decode: {error}") from None
    if len(ids) != len(values):
        raise MalformedLog(f"TransferBatch with {len(ids)} ids but {len(values)} values")
    if len(ids) > MAX_BATCH_ITEMS:
        raise MalformedLog(f"TransferBatch of {len(ids)} items, more than {MAX_BATCH_ITEMS}")
    sender, recipient = topic_address(topics[2]), topic_address(topics[3])
    return [
        DecodedTransfer(Standard.ERC1155, sender, recipient, value, token_id, sub_index=i)
        for i, (token_id, value) in enumerate(zip(ids, values, strict=True))
    ]


def decode_unindexed_transfer(topics: list[str], data: str) -> DecodedTransfer:
    """A pre-standard ERC-20 Transfer(address,address,uint256) with nothing indexed: the topic alone, then
    from, to and value as three data words. Only for contracts known to emit it: some NFTs share the shape."""
    if len(topics) != 1 or topics[0] != TRANSFER_TOPIC or len(data) != 2 + 3 * 64:
        raise MalformedLog(
            f"not an unindexed Transfer: {len(topics)} topics, {(len(data) - 2) // 2} data bytes"
        )
    sender, recipient = (topic_address("0x" + data[2 + i * 64 : 2 + (i + 1) * 64]) for i in (0, 1))
    return DecodedTransfer(Standard.ERC20, sender, recipient, _word(data, 2), None)


def mentioned_addresses(topics: list[str], data: str) -> list[str]:
    """Every 32-byte word of the topics and data that is shaped like an address (12 zero bytes first)."""
    words = [*topics[1:], *("0x" + data[i : i + 64] for i in range(2, len(data) - 63, 64))]
    return ["0x" + word[26:].lower() for word in words if len(word) == 66 and not word[2:26].strip("0")]
