"""Runes: runestones and cenotaphs per the ord specification, cross-checked with ord's own decoder (pyord)."""

from pathlib import Path

import pyord
import pytest
from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.bitcoin.parse import parse_tx
from chains.bitcoin.tokens import detect_tokens
from chains.bitcoin.tokens.runes import decode_runestone

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
P2WPKH = b"\x00\x14" + bytes(20)
U128_MAX = 2**128 - 1


def leb128(*numbers: int) -> bytes:
    out = bytearray()
    for n in numbers:
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                break
    return bytes(out)


def push(data: bytes) -> bytes:
    if len(data) < 0x4C:
        return bytes([len(data)]) + data
    if len(data) <= 0xFF:
        return b"\x4c" + bytes([len(data)]) + data
    return b"\x4d" + len(data).to_bytes(2, "little") + data


def tx_with(*scripts: bytes) -> CTransaction:
    vin = [CTxIn(COutPoint(b"\x11" * 32, 0))]
    vout = [CTxOut(0 if s[:1] == b"\x6a" else 1000, CScript(s)) for s in scripts]
    return CTransaction(vin, vout)


def runestone_tx(*integers: int, outputs: int = 2) -> CTransaction:
    return tx_with(b"\x6a\x5d" + push(leb128(*integers)), *[P2WPKH] * outputs)


def pyord_view(tx: CTransaction) -> dict | None:
    """ord's verdict, reshaped into this project's token shape."""
    artifact = pyord.Runestone.decipher_hex(tx.serialize().hex())
    if artifact is None:
        return None
    mint = f"{artifact.mint.block}:{artifact.mint.tx}" if artifact.mint else None
    if isinstance(artifact, pyord.Cenotaph):
        etching = artifact.etching is not None
        return {
            "protocol": "runes",
            "cenotaph": True,
            "etching": etching,
            "mint": mint,
            "edicts": [],
            "pointer": None,
        }
    return {
        "protocol": "runes",
        "cenotaph": False,
        "etching": artifact.etching is not None,
        "mint": mint,
        "edicts": [
            {"id": f"{e.id.block}:{e.id.tx}", "amount": e.amount, "output": e.output} for e in artifact.edicts
        ],
        "pointer": artifact.pointer,
    }


def decoded(tx: CTransaction) -> dict | None:
    mine = decode_runestone(tx)
    assert mine == pyord_view(tx)  # every case below is also ord's verdict
    return mine


# --- real mainnet runestones, decoded by hand from the OP_RETURN bytes -----------------------------


def load(prefix: str) -> CTransaction:
    (path,) = FIXTURES.glob(f"{prefix}*.hex")
    return parse_tx(path.read_text())


def test_mint_with_edict_from_mainnet():
    # 6a 5d 0f | 14 dfc233 | 14 a701 | 00 dfc233 a701 01 00
    # tag 20 (mint) block 0x5f + 0x42<<7 + 0x33<<14 = 844127, tag 20 tx 0x27 + 1<<7 = 167,
    # body: edict id +844127:+167, amount 1, output 0
    tx = load("1ec45028")
    assert bytes(tx.vout[1].scriptPubKey).hex() == "6a5d0f14dfc23314a70100dfc233a7010100"
    assert decoded(tx) == {
        "protocol": "runes",
        "cenotaph": False,
        "etching": False,
        "mint": "844127:167",
        "edicts": [{"id": "844127:167", "amount": 1, "output": 0}],
        "pointer": None,
    }


def test_transfer_edict_from_mainnet():
    # 00 | c0a233 = 840000 | 1c = 28 | 87eec401 = 7 + 0x6e<<7 + 0x44<<14 + 1<<21 = 3225351 | 01
    tx = load("bc668122")
    assert bytes(tx.vout[2].scriptPubKey).hex() == "6a5d0a00c0a2331c87eec40101"
    assert decoded(tx)["edicts"] == [{"id": "840000:28", "amount": 3225351, "output": 1}]


def test_edict_to_output_count_splits_over_outputs_and_is_valid():
    # 00 | c0a233 = 840000 | 03 | 00 (amount 0 = all) | af11 = 0x2f + 0x11<<7 = 2223 = number of outputs
    tx = load("1af2a846")
    assert len(tx.vout) == 2223
    assert decoded(tx)["edicts"] == [{"id": "840000:3", "amount": 0, "output": 2223}]


def test_delta_encoded_edicts_from_mainnet():
    # first edict block 0x2c + 0x2e<<7 + 0x33<<14 = 841516, tx 1 + 3<<7 = 385; the next ones add 0:0
    tx = load("795e0930")
    edicts = decoded(tx)["edicts"]
    assert edicts[0] == {"id": "841516:385", "amount": 7000, "output": 1}
    assert [e["output"] for e in edicts[:4]] == [1, 2, 3, 4]
    assert {e["id"] for e in edicts} == {"841516:385"}


def test_pointer_from_mainnet():
    # 16 03: tag 22 (pointer) = 3, with 4 outputs
    tx = load("b3205ea4")
    assert decoded(tx)["pointer"] == 3


def test_minter_mistake_is_a_cenotaph():
    # 14 40 a233 14 16 -> [20, 64, 6562, 20, 22]: an even unknown tag 6562 and a truncated field 22
    tx = load("25d919c2")
    assert decoded(tx) == {
        "protocol": "runes",
        "cenotaph": True,
        "etching": False,
        "mint": None,
        "edicts": [],
        "pointer": None,
    }


def test_every_fixture_runestone_matches_ord():
    count = 0
    for path in FIXTURES.glob("*.hex"):
        if path.name.startswith("block_"):
            continue
        tx = parse_tx(path.read_text())
        if decoded(tx) is not None:
            count += 1
    assert count >= 15


# --- the specification's rules, on built transactions ----------------------------------------------


def test_edict_ids_are_delta_encoded():
    tx = runestone_tx(0, 840000, 3, 1000, 1, 0, 2, 500, 0, 5, 7, 1, 1)
    assert decoded(tx)["edicts"] == [
        {"id": "840000:3", "amount": 1000, "output": 1},
        {"id": "840000:5", "amount": 500, "output": 0},
        {"id": "840005:7", "amount": 1, "output": 1},
    ]


@pytest.mark.parametrize(
    ("integers", "why"),
    [
        ((24, 1), "unrecognised even tag"),
        ((126, 0), "the cenotaph tag"),
        ((2, 1 << 5), "unrecognised flag"),
        ((2, 1 << 127), "the cenotaph flag"),
        ((2, 2), "terms flag without etching"),
        ((0, 1, 1, 1), "trailing integers"),
        ((22,), "truncated field"),
        ((0, 1, 0, 1, 4), "edict output beyond the 3 outputs"),
        ((0, 2**64, 0, 1, 0), "edict block overflows u64"),
        ((0, 1, 2**32, 1, 0), "edict tx overflows u32"),
        ((22, 3), "pointer beyond the 3 outputs"),
        ((22, 0, 22, 0), "duplicate even tag"),
        ((20, 0, 20, 1), "mint 0:1 is not a rune id"),
        ((2, 3, 6, U128_MAX, 8, 1, 10, 1), "supply overflow"),
    ],
)
def test_spec_violations_are_cenotaphs(integers, why):
    result = decoded(runestone_tx(*integers, outputs=2))
    assert result["cenotaph"], why
    assert result["edicts"] == []


def test_cenotaph_keeps_mint_and_named_etching():
    result = decoded(runestone_tx(2, 1, 4, 99, 20, 5, 20, 1, 24, 0))
    assert result["cenotaph"] and result["etching"] and result["mint"] == "5:1"


def test_etching_mint_and_unknown_odd_tag_are_valid():
    result = decoded(runestone_tx(2, 1, 4, 12345, 1, 2, 25, 7, 20, 840000, 20, 1))
    assert result == {
        "protocol": "runes",
        "cenotaph": False,
        "etching": True,
        "mint": "840000:1",
        "edicts": [],
        "pointer": None,
    }


@pytest.mark.parametrize(
    "payload_script",
    [
        b"\x51",  # OP_1: an opcode, not a push
        b"\x05\x01\x02",  # a push running past the end
        b"\x4c",  # OP_PUSHDATA1 without its length
    ],
)
def test_bad_script_after_the_magic_is_a_cenotaph(payload_script):
    assert decoded(tx_with(b"\x6a\x5d" + payload_script, P2WPKH))["cenotaph"]


@pytest.mark.parametrize("raw", [b"\x80", b"\xff" * 19 + b"\x00", b"\xff" * 18 + b"\x04"])
def test_bad_varints_are_cenotaphs(raw):
    assert decoded(tx_with(b"\x6a\x5d" + push(raw), P2WPKH))["cenotaph"]


def test_largest_u128_varint_is_accepted():
    assert leb128(U128_MAX) == b"\xff" * 18 + b"\x03"
    assert not decoded(runestone_tx(21, U128_MAX))["cenotaph"]


def test_pushes_are_concatenated_across_push_boundaries():
    # tag 22 and its value 1 split over two pushes, and an empty OP_0 push in between
    result = decoded(tx_with(b"\x6a\x5d\x01\x16\x00\x01\x01", P2WPKH, P2WPKH))
    assert result["pointer"] == 1


def test_only_the_first_runestone_counts_and_other_op_returns_are_skipped():
    tx = tx_with(
        b"\x6a\x04abcd", b"\x6a\x5d" + push(leb128(22, 0)), b"\x6a\x5d" + push(leb128(24, 0)), P2WPKH
    )
    assert decoded(tx)["pointer"] == 0


def test_op_return_without_magic_is_no_runestone():
    assert decoded(tx_with(b"\x6a\x5c\x00", P2WPKH)) is None
    assert decoded(tx_with(b"\x6a", P2WPKH)) is None


def test_oversized_runestone_decodes_without_error():
    tx = tx_with(b"\x6a\x5d" + b"\x4e" + (200_000).to_bytes(4, "little") + b"\x01" * 200_000, P2WPKH)
    # 100,000 (tag 1, value 1) pairs: divisibility without the etching flag is an odd tag, so ignored
    (result,) = detect_tokens(tx)
    assert result == decoded(tx)
    assert not result["cenotaph"]


# --- property: ord and this decoder agree on arbitrary payloads -------------------------------------

small_tags = st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 126, 127])
integers = st.one_of(small_tags, st.integers(0, 300), st.integers(0, U128_MAX))


@settings(max_examples=400, deadline=None)
@given(st.lists(integers, max_size=24), st.integers(1, 4))
def test_random_integer_payloads_agree_with_ord(values, outputs):
    decoded(runestone_tx(*values, outputs=outputs))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.integers(1, 3))
def test_random_runestone_scripts_agree_with_ord(body, outputs):
    tx = tx_with(b"\x6a\x5d" + body, *[P2WPKH] * outputs)
    decoded(tx)


def test_an_edict_for_rune_id_block_0_with_a_nonzero_tx_is_a_cenotaph():
    # Found by the property test above: tag 0 (body), then edict (block +0, tx +1, amount 0, output 0).
    # ord's RuneId::new refuses block 0 with tx > 0, so the runestone is a cenotaph.
    result = decoded(runestone_tx(0, 0, 1, 0, 0, outputs=1))
    assert result["cenotaph"] is True
    assert result["edicts"] == []
