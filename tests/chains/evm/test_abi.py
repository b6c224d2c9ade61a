"""Hand decoding of transfer logs and EIP-55 checks, against independent encodings and the EIP's vectors."""

from __future__ import annotations

import eth_abi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chains.base import InvalidAddress, Standard
from chains.evm.abi import (
    TRANSFER_BATCH_TOPIC,
    TRANSFER_SINGLE_TOPIC,
    TRANSFER_TOPIC,
    MalformedLog,
    decode_transfer_log,
    normalize_address,
)

# The checksummed examples published in EIP-55 itself.
EIP55_VECTORS = [
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
]
ALICE = "0x" + "11" * 20
BOB = "0x" + "ab" * 20
OPERATOR = "0x" + "0c" * 20


def topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def data(types: list[str], values: list[object]) -> str:
    return "0x" + eth_abi.encode(types, values).hex()


def test_topics_are_the_well_known_event_hashes() -> None:
    assert TRANSFER_TOPIC == "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
    assert TRANSFER_SINGLE_TOPIC == "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62"
    assert TRANSFER_BATCH_TOPIC == "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"


@pytest.mark.parametrize("vector", EIP55_VECTORS)
def test_eip55_vectors_normalize_to_their_checksum(vector: str) -> None:
    body = vector[2:]
    checksummed = normalize_address(vector)
    assert checksummed.lower() == vector.lower()
    assert normalize_address("0x" + body.lower()) == checksummed
    assert normalize_address("0x" + body.upper()) == checksummed
    if body not in (body.lower(), body.upper()):  # mixed-case vectors carry the checksum
        assert checksummed == vector


def test_mixed_case_with_a_wrong_checksum_is_invalid() -> None:
    good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    with pytest.raises(InvalidAddress):
        normalize_address(good[:-1] + "D")  # last letter's case flipped


@pytest.mark.parametrize(
    "text",
    ["", "0x", "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0x" + "g" * 40, "0x" + "a" * 39, "0x" + "a" * 41],
)
def test_malformed_addresses_are_invalid(text: str) -> None:
    with pytest.raises(InvalidAddress):
        normalize_address(text)


def test_erc20_transfer_decodes_value_from_data() -> None:
    (t,) = decode_transfer_log([TRANSFER_TOPIC, topic(ALICE), topic(BOB)], data(["uint256"], [2**256 - 1]))
    assert (t.standard, t.sender, t.recipient, t.amount, t.token_id) == (
        Standard.ERC20,
        ALICE,
        BOB,
        2**256 - 1,
        None,
    )


def test_erc721_transfer_decodes_token_id_from_the_fourth_topic() -> None:
    token_topic = "0x" + (123456789).to_bytes(32, "big").hex()
    (t,) = decode_transfer_log([TRANSFER_TOPIC, topic(ALICE), topic(BOB), token_topic], "0x")
    assert (t.standard, t.recipient, t.amount, t.token_id) == (Standard.ERC721, BOB, 1, 123456789)


def test_erc1155_single_decodes_id_and_value() -> None:
    log_data = data(["uint256", "uint256"], [7, 500])
    (t,) = decode_transfer_log([TRANSFER_SINGLE_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)], log_data)
    assert (t.standard, t.sender, t.recipient, t.token_id, t.amount) == (Standard.ERC1155, ALICE, BOB, 7, 500)


@given(st.lists(st.tuples(st.integers(0, 2**256 - 1), st.integers(0, 2**256 - 1)), min_size=0, max_size=20))
def test_erc1155_batch_decodes_every_item_in_order(items: list[tuple[int, int]]) -> None:
    ids, values = [i for i, _ in items], [v for _, v in items]
    log_data = data(["uint256[]", "uint256[]"], [ids, values])
    decoded = decode_transfer_log([TRANSFER_BATCH_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)], log_data)
    assert [(t.token_id, t.amount, t.sub_index) for t in decoded] == [
        (i, v, n) for n, (i, v) in enumerate(items)
    ]


@pytest.mark.parametrize(
    ("topics", "log_data", "reason"),
    [
        ([TRANSFER_TOPIC, topic(ALICE)], data(["uint256"], [1]), "2 topics"),
        ([TRANSFER_TOPIC], data(["address", "address", "uint256"], [ALICE, BOB, 1]), "1 topics"),
        ([TRANSFER_TOPIC, topic(ALICE), topic(BOB)], "0x" + "00" * 16, "16 data bytes"),
        ([TRANSFER_TOPIC, topic(ALICE), topic(BOB)], "0x" + "00" * 64, "64 data bytes"),
        ([TRANSFER_TOPIC, topic(ALICE), topic(BOB), topic(ALICE)], data(["uint256"], [1]), "ERC-721"),
        ([TRANSFER_TOPIC, "0x" + "ff" * 32, topic(BOB)], data(["uint256"], [1]), "not an address"),
        (
            [TRANSFER_SINGLE_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)],
            data(["uint256"], [1]),
            "TransferSingle",
        ),
        (
            [TRANSFER_BATCH_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)],
            "0x" + "00" * 32,
            "TransferBatch",
        ),
        ([], "0x", "without topics"),
    ],
)
def test_malformed_logs_raise_with_a_reason(topics: list[str], log_data: str, reason: str) -> None:
    with pytest.raises(MalformedLog, match=reason):
        decode_transfer_log(topics, log_data)


def test_batch_whose_array_length_overruns_the_data_is_malformed() -> None:
    good = bytearray(eth_abi.encode(["uint256[]", "uint256[]"], [[1, 2], [3, 4]]))
    good[64 + 31] = 200  # the ids array now claims 200 items
    with pytest.raises(MalformedLog, match="do not decode"):
        decode_transfer_log(
            [TRANSFER_BATCH_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)], "0x" + good.hex()
        )


def test_batch_with_different_id_and_value_counts_is_malformed() -> None:
    log_data = data(["uint256[]", "uint256[]"], [[1, 2, 3], [4]])
    with pytest.raises(MalformedLog, match="3 ids but 1 values"):
        decode_transfer_log([TRANSFER_BATCH_TOPIC, topic(OPERATOR), topic(ALICE), topic(BOB)], log_data)
