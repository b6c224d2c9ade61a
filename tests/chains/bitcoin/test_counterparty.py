"""Counterparty: ARC4-decrypted b"CNTRPRTY" in OP_RETURN and bare multisig, and the ord "xcp" envelope."""

import json
from pathlib import Path

import pytest
from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut
from Crypto.Cipher import ARC4  # pycryptodome: an ARC4 independent of the code under test
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.bitcoin.describe import tokens_by_output
from chains.bitcoin.parse import parse_tx
from chains.bitcoin.tokens import detect_tokens
from chains.bitcoin.tokens.counterparty import decode_counterparty

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
PREFIX = b"CNTRPRTY"
P2PKH = b"\x76\xa9\x14" + bytes(20) + b"\x88\xac"


def arc4(key: bytes, data: bytes) -> bytes:
    return ARC4.new(key).decrypt(data)


def op_return_data(script: bytes) -> bytes:
    if script[1] == 0x4C:
        return script[3 : 3 + script[2]]
    return script[2 : 2 + script[1]]


def multisig_data(script: bytes) -> bytes:
    # OP_1 <33-byte key> <33-byte key> [<33-byte key>] OP_n OP_CHECKMULTISIG; the last key is real
    keys = [script[i + 1 : i + 34] for i in range(1, len(script) - 2, 34)]
    return b"".join(key[1:-1] for key in keys[:-1])


def counterparty_fixtures() -> list[tuple[str, str]]:
    """(txid, encoding) of every Esplora fixture whose decrypted outputs begin with CNTRPRTY."""
    found = []
    for path in sorted(FIXTURES.glob("*.esplora.json")):
        tx = json.loads(path.read_text())
        if tx["vin"][0].get("is_coinbase"):
            continue
        key = bytes.fromhex(tx["vin"][0]["txid"])  # display order, as Counterparty keys ARC4
        encodings = set()
        for out in tx["vout"]:
            script = bytes.fromhex(out["scriptpubkey"])
            if (
                script[:1] == b"\x6a"
                and len(script) > 2
                and arc4(key, op_return_data(script)).startswith(PREFIX)
            ):
                encodings.add("opreturn")
            is_multisig = script[:1] == b"\x51" and script[-1:] == b"\xae" and len(script) in (71, 105)
            if is_multisig and arc4(key, multisig_data(script))[1:9] == PREFIX:
                encodings.add("multisig")
        for encoding in sorted(encodings):
            found.append((tx["txid"], encoding))
    return found


FOUND = counterparty_fixtures()


def test_fixtures_hold_both_classic_encodings():
    assert {encoding for _, encoding in FOUND} == {"opreturn", "multisig"}
    assert len(FOUND) >= 20


@pytest.mark.parametrize(("txid", "encoding"), FOUND)
def test_counterparty_fixture_is_detected_with_its_encoding(txid, encoding):
    tx = parse_tx((FIXTURES / f"{txid}.hex").read_text())
    assert {"protocol": "counterparty", "encoding": encoding} in detect_tokens(tx)


def test_taproot_xcp_envelope_is_detected():
    # witness envelope: "ord", tag 7 (metaprotocol) = "xcp", tag 1 = image/jpeg, CBOR message, body
    tx = parse_tx(
        (FIXTURES / "e6ecd07a48178c363e61a2bf109a5d1dc5e44e9b31afff096074311fb51ca01d.hex").read_text()
    )
    tapscript = tx.wit.vtxinwit[0].scriptWitness.stack[-2]
    assert tapscript.startswith(b"\x00\x63\x03ord\x01\x07\x03xcp")
    assert {"protocol": "counterparty", "encoding": "taproot"} in detect_tokens(tx)


def test_other_op_return_protocols_are_not_counterparty():
    for txid in (
        "73ea181b20c213ba614a3cb5654b19400937cb8c746a19fb62f51c2b8ec7e12e",  # omni
        "bc668122adc872c81c91a1ddb3e2dee64372d6e4d749b3a655523b3af8ff9816",  # runes
    ):
        assert decode_counterparty(parse_tx((FIXTURES / f"{txid}.hex").read_text())) == []


# --- built transactions --------------------------------------------------------------------------------

PREVOUT = bytes(range(32))  # internal byte order; Counterparty's key is its reverse (display order)


def built(*scripts: bytes) -> CTransaction:
    vout = [CTxOut(0 if s[:1] == b"\x6a" else 546, CScript(s)) for s in scripts]
    return CTransaction([CTxIn(COutPoint(PREVOUT, 0))], vout)


def test_op_return_message_under_the_prevout_key_is_detected_and_its_destination_found():
    message = arc4(PREVOUT[::-1], PREFIX + b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01" + bytes(16))
    tx = built(P2PKH, b"\x6a" + bytes([len(message)]) + message, P2PKH)
    assert detect_tokens(tx) == [{"protocol": "counterparty", "encoding": "opreturn"}]
    assert list(tokens_by_output(tx)) == [0]


def test_message_under_another_key_is_not_counterparty():
    message = arc4(PREVOUT, PREFIX + bytes(20))  # internal byte order: the wrong key
    assert detect_tokens(built(b"\x6a" + bytes([len(message)]) + message)) == []


def test_multisig_chunk_is_detected():
    plain = bytes([len(PREFIX) + 10]) + PREFIX + bytes(10)
    chunk = arc4(PREVOUT[::-1], plain.ljust(62, b"\x00"))
    keys = [b"\x02" + chunk[:31] + b"\x00", b"\x03" + chunk[31:] + b"\x00", b"\x02" + b"\x09" * 32]
    script = b"\x51" + b"".join(b"\x21" + k for k in keys) + b"\x53\xae"
    assert detect_tokens(built(script, P2PKH)) == [{"protocol": "counterparty", "encoding": "multisig"}]


def test_coinbase_is_never_counterparty():
    coinbase = CTransaction(
        [CTxIn(COutPoint(), CScript(b"\x03\x01\x02\x03"))], [CTxOut(0, CScript(b"\x6a\x08" + PREFIX))]
    )
    assert detect_tokens(coinbase) == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_op_return_and_multisig_bytes_never_crash(data):
    scripts = [b"\x6a" + data, b"\x51" + data + b"\xae", P2PKH]
    for token in detect_tokens(built(*scripts)):
        assert token["protocol"] in {"counterparty", "runes", "omni"}


def test_no_other_fixture_is_reported_as_classic_counterparty():
    reported = set()
    for path in FIXTURES.glob("*.esplora.json"):
        txid = path.name.removesuffix(".esplora.json")
        for token in detect_tokens(parse_tx((FIXTURES / f"{txid}.hex").read_text())):
            if token["protocol"] == "counterparty" and token["encoding"] != "taproot":
                reported.add((txid, token["encoding"]))
    assert reported == set(FOUND)
