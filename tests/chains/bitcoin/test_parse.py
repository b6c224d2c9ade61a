"""Parsing raw transactions and blocks: real mainnet bytes, and bad input raising MalformedData only."""

import contextlib
import hashlib
from pathlib import Path

import pytest
from bitcoin.core import CTransaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chains.base import MalformedData
from chains.bitcoin.parse import parse_block, parse_tx, txid

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
BLOCK_702861 = next(FIXTURES.glob("mainnet_block_*.raw"))
TESTNET_BLOCK = next(FIXTURES.glob("testnet_block_*.raw"))
SEGWIT_TX = "7bf717689b9033eafb2f3272719989b304bb7db616c2bfb5ded2e1b76d50a4f0"


def _dsha(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def _merkle_root(hashes: list[bytes]) -> bytes:
    while len(hashes) > 1:
        if len(hashes) % 2:
            hashes = [*hashes, hashes[-1]]
        hashes = [_dsha(hashes[i] + hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def test_every_fixture_transaction_parses_to_its_file_txid():
    files = [p for p in FIXTURES.glob("*.hex") if not p.name.startswith("block_")]
    assert len(files) == 124
    for path in files:
        raw = path.read_text().strip()
        tx = parse_tx(raw)
        assert txid(tx) == path.name.removesuffix(".hex")
        assert tx.serialize().hex() == raw


def test_bytes_and_hex_give_the_same_transaction():
    raw = (FIXTURES / f"{SEGWIT_TX}.hex").read_text().strip()
    assert parse_tx(bytes.fromhex(raw)) == parse_tx(raw) == parse_tx(raw.upper() + "\n")


def test_mainnet_block_parses_with_header_hash_and_merkle_root():
    raw = BLOCK_702861.read_bytes()
    header, txs = parse_block(raw)
    assert len(txs) == 2500
    assert _dsha(raw[:80])[::-1].hex() == BLOCK_702861.stem.removeprefix("mainnet_block_")
    assert header.GetHash()[::-1].hex() == BLOCK_702861.stem.removeprefix("mainnet_block_")
    # the txids recomputed from the parsed transactions must rebuild the header's merkle root
    assert _merkle_root([bytes.fromhex(txid(tx))[::-1] for tx in txs]) == raw[36:68]
    assert txs[1].serialize().hex() == (FIXTURES / f"{SEGWIT_TX}.hex").read_text().strip()


def test_testnet_block_parses():
    raw = TESTNET_BLOCK.read_bytes()
    _, txs = parse_block(raw)
    assert len(txs) == 15
    assert _merkle_root([bytes.fromhex(txid(tx))[::-1] for tx in txs]) == raw[36:68]


def test_831802_lines_parse_to_distinct_txids_and_one_coinbase():
    lines = (FIXTURES / "block_831802_txs.hex").read_text().split()
    txs = [parse_tx(line) for line in lines]
    assert len({txid(tx) for tx in txs}) == 2107
    assert [tx.is_coinbase() for tx in txs].count(True) == 1
    assert txs[0].is_coinbase()


@pytest.mark.parametrize(
    "raw",
    ["", "00", "zz", "0", "01000000", b"", b"\x01\x00\x00\x00\x01", "deadbeef" * 50, 12345, None],
)
def test_garbage_raises_malformed_data(raw):
    with pytest.raises(MalformedData):
        parse_tx(raw)


def test_every_truncation_of_a_real_transaction_raises_malformed_data():
    raw = bytes.fromhex((FIXTURES / f"{SEGWIT_TX}.hex").read_text().strip())
    for size in range(len(raw)):
        with pytest.raises(MalformedData):
            parse_tx(raw[:size])


def test_trailing_bytes_after_a_transaction_are_refused():
    raw = bytes.fromhex((FIXTURES / f"{SEGWIT_TX}.hex").read_text().strip())
    with pytest.raises(MalformedData):
        parse_tx(raw + b"\x00")


def test_block_with_trailing_bytes_or_truncated_is_refused():
    raw = TESTNET_BLOCK.read_bytes()
    with pytest.raises(MalformedData):
        parse_block(raw + b"\x00")
    with pytest.raises(MalformedData):
        parse_block(raw[:-1])
    with pytest.raises(MalformedData):
        parse_block(b"\x00" * 79)


def test_oversized_input_is_refused_without_reading_it():
    with pytest.raises(MalformedData, match="larger"):
        parse_tx(b"\x00" * 4_000_001)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes_either_parse_or_raise_malformed_data(data):
    try:
        tx = parse_tx(data)
    except MalformedData:
        return
    assert isinstance(tx, CTransaction)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=233), st.integers(min_value=0, max_value=255))
def test_a_flipped_byte_never_raises_anything_but_malformed_data(position, value):
    raw = bytearray.fromhex((FIXTURES / f"{SEGWIT_TX}.hex").read_text().strip())
    raw[position % len(raw)] = value
    with contextlib.suppress(MalformedData):
        parse_tx(bytes(raw))
