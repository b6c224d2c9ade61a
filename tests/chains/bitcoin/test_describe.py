"""describe_tx and tokens_by_output on real transactions, checked against Esplora's independent decoding."""

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

from chains.base import MalformedData
from chains.bitcoin.describe import describe_tx, tokens_by_output
from chains.bitcoin.parse import parse_block, parse_tx
from chains.bitcoin.tokens import detect_tokens

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
BLOCK_702861 = next(FIXTURES.glob("mainnet_block_*.raw"))
TESTNET_BLOCK = next(FIXTURES.glob("testnet_block_*.raw"))


def load(prefix: str) -> CTransaction:
    (path,) = FIXTURES.glob(f"{prefix}*.hex")
    return parse_tx(path.read_text())


def test_description_matches_esplora_for_every_fixture():
    for path in sorted(FIXTURES.glob("*.esplora.json")):
        esplora = json.loads(path.read_text())
        raw = (FIXTURES / path.name.replace(".esplora.json", ".hex")).read_text()
        described = describe_tx(raw)
        assert set(described) == {"network", "txid", "outputs", "tokens"}
        assert described["network"] == "bitcoin"
        assert described["txid"] == esplora["txid"]
        assert described["outputs"] == [
            {"n": n, "address": out.get("scriptpubkey_address"), "value": out["value"]}
            for n, out in enumerate(esplora["vout"])
        ]


def test_plain_payments_carry_no_tokens():
    for txid in (
        "7bf717689b9033eafb2f3272719989b304bb7db616c2bfb5ded2e1b76d50a4f0",
        "33e794d097969002ee05d336686fc03c9e15a597c1b9827669460fac98799036",
    ):
        described = describe_tx((FIXTURES / f"{txid}.hex").read_text())
        assert described["tokens"] == []
    assert tokens_by_output(load("7bf717689b")) == {}


def test_block_702861_has_exactly_the_omni_sends_its_op_returns_show():
    _, txs = parse_block(BLOCK_702861.read_bytes())
    # independent count: OP_RETURN outputs whose push starts with "omni" (6f6d6e69) then version 0, type 0
    marked = sum(
        1
        for tx in txs
        if any(bytes(o.scriptPubKey).startswith(b"\x6a\x14omni\x00\x00\x00\x00") for o in tx.vout)
    )
    found = [t for tx in txs for t in detect_tokens(tx) if t["protocol"] == "omni"]
    assert marked >= 4
    assert len(found) == marked
    assert all(t["property_id"] == 31 for t in found)
    assert not any(t["protocol"] in {"runes", "inscription"} for tx in txs for t in detect_tokens(tx))


def test_testnet_transaction_gets_testnet_addresses():
    _, txs = parse_block(TESTNET_BLOCK.read_bytes())
    described = describe_tx(txs[0].serialize(), "bitcoin-testnet")
    addresses = [o["address"] for o in described["outputs"] if o["address"]]
    assert addresses and all(a[0] in "mn2" or a.startswith("tb1") for a in addresses)


def test_garbage_hex_raises_malformed_data():
    with pytest.raises(MalformedData):
        describe_tx("not hex at all")
    with pytest.raises(MalformedData):
        describe_tx("0200000001")


# --- which output a token goes to -------------------------------------------------------------------


def test_rune_edict_goes_to_its_output():
    tx = load("bc668122")  # one edict to output 1; whatever it leaves goes to output 0 (no pointer)
    mapping = tokens_by_output(tx)
    assert list(mapping) == [0, 1]
    assert mapping[1][0]["edicts"] == [{"id": "840000:28", "amount": 3225351, "output": 1}]


def test_rune_pointer_receives_unallocated_runes():
    assert list(tokens_by_output(load("b3205ea4"))) == [3]  # pointer 3, no edicts


def test_mint_without_pointer_goes_to_first_non_op_return_output():
    tx = load("7f4c516c")  # output 0 is the runestone
    assert tx.vout[0].scriptPubKey[:1] == b"\x6a"
    assert list(tokens_by_output(tx)) == [1]


def test_cenotaph_burns_and_goes_nowhere():
    assert tokens_by_output(load("25d919c2")) == {}


def test_edicts_to_many_outputs():
    tx = load("795e0930")
    outputs = set(tokens_by_output(tx))
    assert {1, 2, 3, 4} <= outputs
    assert 14 not in outputs  # the OP_RETURN itself


def test_inscription_goes_to_output_zero():
    mapping = tokens_by_output(load("08770f28"))
    assert list(mapping) == [0] and mapping[0][0]["protocol"] == "inscription"


def test_omni_goes_to_the_reference_output():
    mapping = tokens_by_output(load("bfc7c40c"))
    assert list(mapping) == [0] and mapping[0][0]["amount"] == 100_000_000


# --- fuzzing ------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=90), min_size=1, max_size=4), st.lists(st.binary(max_size=90), max_size=4))
def test_detect_tokens_never_raises_on_random_op_returns_and_witnesses(payloads, witness_items):
    vout = [CTxOut(0, CScript(b"\x6a" + p)) for p in payloads] + [
        CTxOut(546, CScript(b"\x51\x20" + bytes(32)))
    ]
    witness = CTxWitness([CTxInWitness(CScriptWitness(witness_items))])
    tx = CTransaction([CTxIn(COutPoint(b"\x44" * 32, 0))], vout, 0, 2, witness)
    tx = parse_tx(tx.serialize()) if witness_items else tx
    tokens = detect_tokens(tx)
    mapping = tokens_by_output(tx)
    assert all(0 <= n < len(vout) for n in mapping)
    for token in tokens:
        assert token["protocol"] in {"omni", "runes", "inscription", "rune-commitment", "counterparty"}
        if "amount" in token:
            assert 0 < token["amount"] < 2**63
