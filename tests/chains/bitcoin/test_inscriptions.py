"""Ordinals inscriptions: ord envelopes in taproot script-path witnesses, annexes, rune commitments."""

import json
from pathlib import Path

import pytest
from bitcoin.core import (
    COutPoint,
    CScript,
    CScriptWitness,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.bitcoin.parse import parse_tx
from chains.bitcoin.tokens import detect_tokens
from chains.bitcoin.tokens.inscriptions import decode_inscriptions

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
ENVELOPE_START = b"\x00\x63\x03ord"
SIG, CONTROL = b"\x01" * 64, b"\xc0" + b"\x02" * 32
KEY_CHECKSIG = b"\x20" + b"\x03" * 32 + b"\xac"
P2TR = b"\x51\x20" + bytes(32)


def header_fields(tapscript: bytes, start: int) -> dict[bytes, bytes]:
    """Tag/value pairs after "ord", reading only short pushes, up to the body (OP_0) or OP_ENDIF."""
    fields: dict[bytes, bytes] = {}
    i, pending = start, None
    while i < len(tapscript) and tapscript[i] not in (0x00, 0x68):
        size = tapscript[i]
        if 0x51 <= size <= 0x60:  # OP_1..OP_16 push the number itself (early ord used OP_1 for tag 1)
            value, i = bytes([size - 0x50]), i + 1
        elif size < 0x4C:
            value, i = tapscript[i + 1 : i + 1 + size], i + 1 + size
        else:
            break
        if pending is None:
            pending = value
        else:
            fields.setdefault(pending, value)
            pending = None
    return fields


def expected_from_esplora(path: Path) -> list[tuple[int, str | None]]:
    """(input, content type) of the first envelope of each input, found by hand in the Esplora witness."""
    tx = json.loads(path.read_text())
    found = []
    for index, vin in enumerate(tx["vin"]):
        witness = [bytes.fromhex(item) for item in vin.get("witness", [])]
        if len(witness) < 2:
            continue
        tapscript = witness[-3] if len(witness) >= 3 and witness[-1][:1] == b"\x50" else witness[-2]
        start = tapscript.find(ENVELOPE_START)
        if start < 0:
            continue
        content_type = header_fields(tapscript, start + len(ENVELOPE_START)).get(b"\x01")
        found.append((index, content_type.decode() if content_type is not None else None))
    return found


INSCRIBED = [
    "08770f28ab15ec0acf1103ce6af34c57c05ba7db5df783b3b75058725e0bd480",
    "430901147831e41111aced3895ee4b9742cf72ac3cffa132624bd38c551ef379",
    "47311be09e0d400a338cc8c9d69bea7b8ec29c3c5763d551668f9a6dc101d695",
    "49cbc5cbac92cf917dd4539d62720a3e528d17e22ef5fc47070a17ec0d3cf307",
    "4c83f2e1d12d6f71e9f69159aff48f7946ce04c5ffcc3a3feee4080bac343722",
    "6dc2c16a74dedcae46300b2058ebadc7ca78aea78236459662375c8d7d9804db",
    "78fa9d6e9b2b49fbb9f4838e1792dba7c1ec836f22e3206561e2d52759708251",
    "c1e013bdd1434450c6e1155417c81eb888e20cbde2e0cde37ec238d91cf37045",
    "f531eea03671ac17100a9887d5212532250d5eae09e7c8873cdd2efa6f7fab57",
    "1b37f19c0a50b7e90fba7b317a30b56ef8d3494684d7530eb6efec567ebdb32f",
]


@pytest.mark.parametrize("txid", INSCRIBED)
def test_fixture_inscription_content_type_matches_the_witness_bytes(txid):
    expected = expected_from_esplora(FIXTURES / f"{txid}.esplora.json")
    assert expected and all(content_type for _, content_type in expected)
    found = [
        (t["input"], t["content_type"])
        for t in decode_inscriptions(_load(txid))
        if t["protocol"] == "inscription"
    ]
    assert found[: len(expected)] == expected


def test_text_inscription_from_mainnet():
    (token,) = detect_tokens(_load("08770f28ab15ec0acf1103ce6af34c57c05ba7db5df783b3b75058725e0bd480"))
    assert token == {"protocol": "inscription", "input": 0, "content_type": "text/plain;charset=utf-8"}


def test_delegate_inscription_with_rune_field_is_an_inscription_not_a_bare_commitment():
    # envelope: tag 11 (delegate) 32 bytes, tag 13 (rune) 9 bytes, no content type, no body
    tx = _load("2bb85f4b004be6da54f766c17c1e855187327112c231ef2ff35ebad0ea67c69e")
    assert {"protocol": "inscription", "input": 0, "content_type": None} in detect_tokens(tx)


def test_batch_of_inscriptions_in_one_input():
    tx = _load("11d3f4b39e8ab97995bab1eacf7dcbf1345ec59c07261c0197e18bf29b88d8da")
    found = decode_inscriptions(tx)
    assert len(found) > 1 and {t["input"] for t in found} == {1}


def test_every_envelope_in_block_831802_is_found():
    for line in (FIXTURES / "block_831802_txs.hex").read_text().split():
        tx = parse_tx(line)
        has_marker = any(
            len(w.scriptWitness.stack) >= 2 and ENVELOPE_START in w.scriptWitness.stack[-2]
            for w in tx.wit.vtxinwit
        )
        if has_marker:
            assert decode_inscriptions(tx), line[:64]


# --- built transactions --------------------------------------------------------------------------------


def reveal(*stack: bytes) -> CTransaction:
    witness = CTxWitness([CTxInWitness(CScriptWitness(list(stack)))])
    return CTransaction([CTxIn(COutPoint(b"\x33" * 32, 0))], [CTxOut(546, CScript(P2TR))], 0, 2, witness)


def envelope(*pushes: bytes, end: bytes = b"\x68") -> bytes:
    body = b"".join(bytes([len(p)]) + p for p in pushes)
    return KEY_CHECKSIG + ENVELOPE_START + body + end


def test_tapscript_is_second_to_last_item():
    script = envelope(b"\x01", b"text/plain", b"", b"hi")
    assert decode_inscriptions(reveal(SIG, script, CONTROL)) == [
        {"protocol": "inscription", "input": 0, "content_type": "text/plain"}
    ]


def test_tapscript_is_third_to_last_with_an_annex():
    script = envelope(b"\x01", b"image/png", b"", b"\x89PNG")
    found = decode_inscriptions(reveal(SIG, script, CONTROL, b"\x50annex"))
    assert found == [{"protocol": "inscription", "input": 0, "content_type": "image/png"}]


def test_key_path_spend_has_no_inscription():
    assert decode_inscriptions(reveal(SIG)) == []


def test_old_style_op1_tag_is_read_as_the_content_type_tag():
    script = KEY_CHECKSIG + ENVELOPE_START + b"\x51" + b"\x0atext/plain" + b"\x00\x02hi\x68"
    assert decode_inscriptions(reveal(SIG, script, CONTROL))[0]["content_type"] == "text/plain"


def test_body_without_content_type_is_an_inscription_with_no_type():
    found = decode_inscriptions(reveal(SIG, envelope(b"", b"data"), CONTROL))
    assert found == [{"protocol": "inscription", "input": 0, "content_type": None}]


def test_bare_rune_commitment_is_told_apart_from_an_inscription():
    found = decode_inscriptions(reveal(SIG, envelope(b"\x0d", b"\x87\xd0\x10\x0e"), CONTROL))
    assert found == [{"protocol": "rune-commitment", "input": 0}]


def test_non_utf8_content_type_is_reported_as_none():
    found = decode_inscriptions(reveal(SIG, envelope(b"\x01", b"\xff\xfe", b"", b"x"), CONTROL))
    assert found[0]["content_type"] is None


@pytest.mark.parametrize(
    "script",
    [
        envelope(b"\x01", b"text/plain", end=b""),  # no OP_ENDIF
        envelope(b"\x01", b"text/plain", end=b"\xac\x68"),  # an opcode inside the envelope
        envelope(b"\x01", b"text/plain") + b"\x05ab",  # the tapscript does not parse: ord drops the input
        KEY_CHECKSIG + b"\x00\x63\x03orx\x68",  # another protocol id
    ],
)
def test_broken_envelopes_are_not_inscriptions(script):
    assert decode_inscriptions(reveal(SIG, script, CONTROL)) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.booleans())
def test_random_envelope_contents_never_crash(tail, annex):
    stack = [SIG, KEY_CHECKSIG + ENVELOPE_START + tail, CONTROL] + ([b"\x50"] if annex else [])
    for token in detect_tokens(reveal(*stack)):
        assert token["protocol"] in {"inscription", "rune-commitment", "counterparty"}


def _load(txid: str) -> CTransaction:
    return parse_tx((FIXTURES / f"{txid}.hex").read_text())
