"""BitcoinChain on the fake node serving real mainnet transactions: scan, reorgs, lookups, broadcast, fees."""

from __future__ import annotations

import json
from decimal import Decimal

import bech32m
import pytest
from bitcoin.base58 import CBase58Data
from bitcoin.core import CTransaction, b2lx

from chains.base import BroadcastOutcome, Chain, InvalidTxid, SignedTx, Standard, TxStatus
from chains.bitcoin.chain import BitcoinChain, FeePolicy
from chains.bitcoin.network import NETWORKS
from chains.bitcoin.refund import build_btc_return
from chains.bitcoin.rpc import BitcoinRpc
from chains.bitcoin.signer import BitcoinHdSigner, KeyChain, SpendInput
from tests.chains.bitcoin.fake_node import (
    FIXTURES_DIR,
    FakeBitcoinNode,
    block_831802_txs,
    fixture_tx_hex,
    funding_tx,
)
from tests.chains.bitcoin.kernel import with_output_value_changed

pytestmark = pytest.mark.timeout(120)

MAINNET = NETWORKS["bitcoin"]
ABANDON = " ".join(["abandon"] * 11 + ["about"])
MULTI_SENDER_TX = "4c83f2e1d12d6f71e9f69159aff48f7946ce04c5ffcc3a3feee4080bac343722"  # 2 inputs, 2 addresses
ONE_SENDER_TX = "172160b29c53b95c1009d225674c354b71f7f92575e8eabee733118bd47843f4"  # 2 inputs, 1 address


def esplora(txid: str) -> dict:
    return json.loads((FIXTURES_DIR / f"{txid}.esplora.json").read_text())


@pytest.fixture
def chain(bitcoin_rpc: BitcoinRpc) -> BitcoinChain:
    return BitcoinChain(MAINNET, bitcoin_rpc, confirmations=2)


@pytest.fixture(scope="module")
def signer() -> BitcoinHdSigner:
    return BitcoinHdSigner(ABANDON, MAINNET)


def test_bitcoin_chain_keeps_the_chain_protocol(chain: BitcoinChain) -> None:
    assert isinstance(chain, Chain)
    assert chain.normalize_address("BC1QCR8TE4KR609GCAWUTMRZA0J4XV80JY8Z306FYU") == (
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    )


def test_scan_of_block_831802_finds_every_output_to_a_watched_address(
    bitcoin_node: FakeBitcoinNode, chain: BitcoinChain
) -> None:
    block_hash = bitcoin_node.mine_block_831802()
    txs = [CTransaction.deserialize(bytes.fromhex(raw)) for raw in block_831802_txs()]
    # watch the script of the first P2TR output after the coinbase, encoded here with the bech32m library
    script = next(
        bytes(o.scriptPubKey) for tx in txs[1:] for o in tx.vout if bytes(o.scriptPubKey)[:2] == b"\x51\x20"
    )
    address = bech32m.encode("bc", 1, script[2:])
    expected = {
        (b2lx(tx.GetTxid()), n, out.nValue)
        for tx in txs
        for n, out in enumerate(tx.vout)
        if bytes(out.scriptPubKey) == script
    }
    result = chain.scan(800_001, 800_001, {address})
    assert {(t.txid, t.index, t.amount) for t in result.transfers} == expected
    assert all(t.recipient == address and t.standard is Standard.NATIVE for t in result.transfers)
    assert all((t.block_number, t.block_hash) == (800_001, block_hash) for t in result.transfers)
    assert [(r.number, r.hash) for r in result.blocks] == [(800_001, block_hash)]


def test_scan_of_real_block_702861() -> None:
    node = FakeBitcoinNode()
    node.start_with_real_block_702861()
    node.start()
    try:
        chain = BitcoinChain(
            MAINNET, BitcoinRpc(node.url, user=node.user, password=node.password, timeout=60)
        )
        tx = CTransaction.deserialize(
            bytes.fromhex(fixture_tx_hex("bc8574e14c82e6ef4c0394e3ce72e4805d3bfa94168f36e221fd8f3db1d5b146"))
        )
        out = tx.vout[0]
        script = bytes(out.scriptPubKey)
        assert script[:3] == b"\x76\xa9\x14"  # a legacy tx paying P2PKH: address via base58check below
        address = str(CBase58Data.from_bytes(script[3:23], 0))
        result = chain.scan(702_861, 702_861, {address})
        assert result.blocks[0].hash == "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae"
        found = [(t.txid, t.index, t.amount) for t in result.transfers if t.txid == b2lx(tx.GetTxid())]
        assert (b2lx(tx.GetTxid()), 0, out.nValue) in found
    finally:
        node.stop()


def test_rescan_gives_the_same_result(bitcoin_node: FakeBitcoinNode, chain: BitcoinChain) -> None:
    bitcoin_node.mine([fixture_tx_hex(ONE_SENDER_TX)])
    bitcoin_node.mine([fixture_tx_hex(MULTI_SENDER_TX)])
    watched = {"1MZUaVy6y7vmwh2MqMKTFy2JiqXteyevpN", "bc1qzm6umclkh233y72nujv9qhmplmt7m7wzsgslqf"}
    first, again = chain.scan(800_001, 800_002, watched), chain.scan(800_001, 800_002, watched)
    assert first == again and len(first.transfers) == 2


def test_sender_is_the_single_input_address(bitcoin_node: FakeBitcoinNode, chain: BitcoinChain) -> None:
    bitcoin_node.mine([fixture_tx_hex(ONE_SENDER_TX)])
    data = esplora(ONE_SENDER_TX)
    recipient = data["vout"][0]["scriptpubkey_address"]
    (transfer,) = chain.scan(800_001, 800_001, {recipient}).transfers
    sender = data["vin"][0]["prevout"]["scriptpubkey_address"]
    assert (transfer.sender, transfer.senders) == (sender, (sender,))
    assert (transfer.index, transfer.amount) == (0, data["vout"][0]["value"])


def test_multi_sender_transaction_has_no_single_sender(
    bitcoin_node: FakeBitcoinNode, chain: BitcoinChain
) -> None:
    bitcoin_node.mine([fixture_tx_hex(MULTI_SENDER_TX)])
    data = esplora(MULTI_SENDER_TX)
    recipient = data["vout"][0]["scriptpubkey_address"]
    (transfer,) = chain.scan(800_001, 800_001, {recipient}).transfers
    assert transfer.sender is None
    assert transfer.senders == tuple(v["prevout"]["scriptpubkey_address"] for v in data["vin"])
    assert len(set(transfer.senders)) == 2


def test_reorg_is_seen_in_block_hashes_and_orphans_answer_minus_one(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, chain: BitcoinChain, signer: BitcoinHdSigner
) -> None:
    deposit = funding_tx([(signer.script(KeyChain.DEPOSIT, 5), 25_000)])
    bitcoin_node.mine([deposit])
    bitcoin_node.mine()
    before = chain.scan(800_001, 800_002, {signer.address(5)})
    assert [t.amount for t in before.transfers] == [25_000]

    bitcoin_node.reorg(2, [[], [], []])
    orphan = before.blocks[0].hash
    assert chain.block_ref(800_001).hash != orphan
    assert bitcoin_rpc.getblockheader(orphan)["confirmations"] == -1
    after = chain.scan(800_001, 800_003, {signer.address(5)})
    assert after.transfers == () and chain.head() == 800_003
    assert chain.lookup_tx(b2lx(deposit.GetTxid())).status is TxStatus.PENDING  # back in the mempool


def test_lookup_of_a_confirmed_transaction(bitcoin_node: FakeBitcoinNode, chain: BitcoinChain) -> None:
    block_hash = bitcoin_node.mine([fixture_tx_hex(ONE_SENDER_TX)])
    bitcoin_node.mine()
    lookup = chain.lookup_tx(ONE_SENDER_TX.upper())
    assert (lookup.status, lookup.block_number, lookup.block_hash, lookup.confirmations) == (
        TxStatus.SUCCESS, 800_001, block_hash, 2,
    )  # fmt: skip
    assert len(lookup.transfers) == sum(
        1 for o in esplora(ONE_SENDER_TX)["vout"] if "scriptpubkey_address" in o
    )


def test_lookup_refuses_text_that_is_not_a_txid(chain: BitcoinChain) -> None:
    with pytest.raises(InvalidTxid):
        chain.lookup_tx("0x" + "ab" * 32)


def test_receipt_of_an_unknown_transaction_is_none(chain: BitcoinChain) -> None:
    assert chain.receipt("ef" * 32) is None


def _signed_return(
    node: FakeBitcoinNode, signer: BitcoinHdSigner
) -> tuple[SignedTx, list[tuple[bytes, int]]]:
    script = signer.script(KeyChain.DEPOSIT, 9)
    funding = funding_tx([(script, 40_000)], tag=9)
    node.mine([funding])
    deposit = SpendInput(b2lx(funding.GetTxid()), 0, 40_000, script, KeyChain.DEPOSIT, 9)
    unsigned = build_btc_return(
        network=MAINNET, deposit=deposit, destination="bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g", fee_rate=5
    )
    return signer.sign(unsigned), [(script, 40_000)]


def test_broadcast_accepts_then_recognises_the_same_bytes(
    bitcoin_node: FakeBitcoinNode, chain: BitcoinChain, signer: BitcoinHdSigner
) -> None:
    signed, _spent = _signed_return(bitcoin_node, signer)
    assert chain.broadcast(signed).outcome is BroadcastOutcome.ACCEPTED
    assert chain.receipt(signed.txid).status is TxStatus.PENDING
    assert chain.broadcast(signed).outcome is BroadcastOutcome.ALREADY_KNOWN  # in the mempool
    bitcoin_node.mine(list(bitcoin_node.mempool.values()))
    assert chain.broadcast(signed).outcome is BroadcastOutcome.ALREADY_KNOWN  # mined
    receipt = chain.receipt(signed.txid)
    assert (receipt.status, receipt.confirmations, receipt.fee_paid) == (TxStatus.SUCCESS, 1, signed.fee_cap)


def test_broadcast_of_tampered_bytes_is_rejected_with_the_node_reason(
    bitcoin_node: FakeBitcoinNode, chain: BitcoinChain, signer: BitcoinHdSigner
) -> None:
    signed, _spent = _signed_return(bitcoin_node, signer)
    tampered = SignedTx(raw=with_output_value_changed(signed.raw, 0, -100), txid=signed.txid)
    result = chain.broadcast(tampered)
    assert result.outcome is BroadcastOutcome.REJECTED and "script-verify" in result.detail


def test_broadcast_of_undecodable_bytes_is_rejected(chain: BitcoinChain) -> None:
    result = chain.broadcast(SignedTx(raw=b"\x01\x02", txid="ab" * 32))
    assert result.outcome is BroadcastOutcome.REJECTED and "decode" in result.detail


def test_timeout_after_the_send_is_unclear_and_the_chain_tells(
    bitcoin_node: FakeBitcoinNode, signer: BitcoinHdSigner
) -> None:
    signed, _spent = _signed_return(bitcoin_node, signer)
    rpc = BitcoinRpc(bitcoin_node.url, user=bitcoin_node.user, password=bitcoin_node.password, timeout=0.5)
    chain = BitcoinChain(MAINNET, rpc)
    bitcoin_node.fail_next("sendrawtransaction", "timeout", delay=1.0, after_effect=True)
    result = chain.broadcast(signed)
    assert result.outcome is BroadcastOutcome.UNCLEAR
    assert chain.receipt(signed.txid).status is TxStatus.PENDING  # it did reach the node


def test_spent_inputs_of_an_unknown_transaction_are_unclear(
    bitcoin_node: FakeBitcoinNode, chain: BitcoinChain, signer: BitcoinHdSigner
) -> None:
    signed, _spent = _signed_return(bitcoin_node, signer)
    rival_raw = with_output_value_changed(signed.raw, 0, -100)
    rival = SignedTx(raw=rival_raw, txid=b2lx(CTransaction.deserialize(rival_raw).GetTxid()))
    chain.broadcast(signed)
    bitcoin_node.mine(list(bitcoin_node.mempool.values()))
    result = chain.broadcast(rival)  # its input is spent by the mined refund, and the node never saw it
    assert result.outcome is BroadcastOutcome.UNCLEAR


@pytest.mark.parametrize(
    ("btc_per_kvb", "expected"),
    [(Decimal("0.00012001"), 13), (Decimal("0.00001000"), 2), (Decimal("0.01"), 500), (None, 10)],
)
def test_fee_rate_rounds_up_and_stays_within_floor_and_ceiling(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, btc_per_kvb: Decimal | None, expected: int
) -> None:
    bitcoin_node.fee_rate_btc_kvb = btc_per_kvb
    chain = BitcoinChain(MAINNET, bitcoin_rpc, fee_policy=FeePolicy(floor=2, fallback=10, ceiling=500))
    assert chain.fee_rate() == expected
