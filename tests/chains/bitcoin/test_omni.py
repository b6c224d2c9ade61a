"""Omni Layer Class C: simple sends decoded per the Omni spec, the reference output, malformed payloads."""

from pathlib import Path

import pytest
from bitcoin.core import COutPoint, CScript, CTransaction, CTxIn, CTxOut, Hash160
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.bitcoin.describe import omni_reference_output, tokens_by_output
from chains.bitcoin.parse import parse_tx
from chains.bitcoin.tokens import detect_tokens
from chains.bitcoin.tokens.omni import decode_omni

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
# the four USDT (property 31) simple sends of block 702861 (tx indexes 23, 24, 25, 36)
OMNI_TXIDS = [
    "bc8574e14c82e6ef4c0394e3ce72e4805d3bfa94168f36e221fd8f3db1d5b146",
    "e97dffe94af1a7060569864a46066585968cd0498df35466f5fc4149c2876cd1",
    "73ea181b20c213ba614a3cb5654b19400937cb8c746a19fb62f51c2b8ec7e12e",
    "bfc7c40c16da64752f9f6563fe2d24cb2f0bd774cef45e37f8b9f4d6eabfd0c5",
]
P2PKH = b"\x76\xa9\x14" + bytes(20) + b"\x88\xac"


def load(txid: str) -> CTransaction:
    return parse_tx((FIXTURES / f"{txid}.hex").read_text())


def omni_tx(payload: bytes, *outputs: bytes) -> CTransaction:
    script = b"\x6a" + bytes([len(payload) + 4]) + b"omni" + payload
    vout = [CTxOut(546, CScript(s)) for s in outputs] + [CTxOut(0, CScript(script))]
    return CTransaction([CTxIn(COutPoint(b"\x22" * 32, 1))], vout)


@pytest.mark.parametrize("txid", OMNI_TXIDS)
def test_simple_send_fields_are_read_from_the_payload_per_spec(txid):
    tx = load(txid)
    (script,) = [bytes(o.scriptPubKey) for o in tx.vout if o.scriptPubKey[:1] == b"\x6a"]
    # OP_RETURN, push 20, "omni", version u16, type u16, property u32, amount u64 (all big-endian)
    assert script[:2] == b"\x6a\x14" and script[2:6] == b"omni"
    assert script[6:8] == b"\x00\x00" and script[8:10] == b"\x00\x00"
    expected = {
        "protocol": "omni",
        "property_id": int.from_bytes(script[10:14], "big"),
        "amount": int.from_bytes(script[14:22], "big"),
    }
    assert expected["property_id"] == 31  # Tether USD on Omni
    assert detect_tokens(tx) == [expected]


def test_known_amounts_of_the_block_702861_sends():
    # 0x746a528800 = 5,000 USDT; 0x05f5e100 = 1 USDT (8 decimals)
    assert decode_omni(load(OMNI_TXIDS[2]))["amount"] == 500_000_000_000
    assert decode_omni(load(OMNI_TXIDS[3]))["amount"] == 100_000_000


def test_reference_is_the_last_output_when_no_output_is_the_senders():
    # outputs 0 and 1 pay the same address, which is not the sender: the spec takes the highest vout
    tx = load(OMNI_TXIDS[0])
    assert bytes(tx.vout[0].scriptPubKey) == bytes(tx.vout[1].scriptPubKey)
    assert omni_reference_output(tx) == 1
    assert list(tokens_by_output(tx)) == [1]


def test_reference_skips_the_senders_change_output():
    tx = load(OMNI_TXIDS[3])
    sender_pubkey = bytes.fromhex("02dda51ea5b0c74b93326e051c4d9b1324dd70100ace42c3c3b40756888596b2ad")
    assert bytes(tx.vin[0].scriptSig).endswith(sender_pubkey)
    # output 2 pays the sender's own key hash: change; the reference is the other output, 0
    assert bytes(tx.vout[2].scriptPubKey) == b"\x76\xa9\x14" + Hash160(sender_pubkey) + b"\x88\xac"
    assert omni_reference_output(tx) == 0


def test_single_candidate_output_is_the_reference():
    assert omni_reference_output(omni_tx(bytes(16), P2PKH)) == 0


def test_other_transaction_types_report_their_type():
    assert decode_omni(omni_tx(bytes.fromhex("0000" + "0032") + bytes(20), P2PKH)) == {
        "protocol": "omni",
        "type": 50,
    }


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (b"", "no version or type"),
        (b"\x00\x00\x00", "three bytes"),
        (bytes.fromhex("0000 0000 0000001f 000000"), "truncated amount"),
        (bytes.fromhex("0000 0000 0000001f 0000000000000000"), "zero amount"),
        (bytes.fromhex("0000 0000 0000001f 8000000000000000"), "amount above int64"),
        (bytes.fromhex("0001 0000 0000001f 0000000000000001"), "unknown simple send version"),
        (bytes.fromhex("0000 0000 00000000 0000000000000001"), "property 0 (bitcoin)"),
    ],
)
def test_malformed_simple_sends_are_labelled_and_carry_no_amount(payload, why):
    result = decode_omni(omni_tx(payload, P2PKH))
    assert result["malformed"] is True, why
    assert "amount" not in result


def test_trailing_bytes_after_a_simple_send_are_ignored_as_omni_core_does():
    payload = bytes.fromhex("0000 0000 00000003 0000000000000007") + b"extra"
    assert decode_omni(omni_tx(payload, P2PKH)) == {"protocol": "omni", "property_id": 3, "amount": 7}


def test_marker_must_start_the_first_push():
    script = b"\x6a\x05xomni"
    tx = CTransaction([CTxIn(COutPoint(b"\x22" * 32, 1))], [CTxOut(0, CScript(script))])
    assert decode_omni(tx) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=60))
def test_random_payloads_never_crash_nor_invent_amounts(payload):
    tokens = detect_tokens(omni_tx(payload, P2PKH))
    omni = [t for t in tokens if t["protocol"] == "omni"]
    assert len(omni) == 1
    if "amount" in omni[0]:
        assert payload[:4] == b"\x00\x00\x00\x00"
        assert omni[0]["amount"] == int.from_bytes(payload[8:16], "big")
        assert omni[0]["property_id"] == int.from_bytes(payload[4:8], "big")
