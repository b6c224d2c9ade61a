"""Refund builders: each signed refund passes consensus (py-bitcoinkernel) and the node's mempool checks."""

from __future__ import annotations

import pyord
import pytest
from bitcoin.core import CTransaction, b2lx

from chains.base import InvalidAddress
from chains.bitcoin.address import address_to_script
from chains.bitcoin.describe import omni_reference_output, sender_script, tokens_by_output
from chains.bitcoin.network import NETWORKS
from chains.bitcoin.refund import (
    RefundRefused,
    build_btc_return,
    build_inscription_return,
    build_omni_return,
    build_runes_return,
    dust_threshold,
)
from chains.bitcoin.rpc import BitcoinRpc
from chains.bitcoin.signer import RBF_SEQUENCE, BitcoinHdSigner, KeyChain, SpendInput, UnsignedBitcoinTx
from chains.bitcoin.tokens.omni import decode_omni
from chains.bitcoin.tokens.runes import decode_runestone
from tests.chains.bitcoin.fake_node import FakeBitcoinNode, funding_tx
from tests.chains.bitcoin.kernel import (
    is_valid,
    verify_tx,
    with_output_value_changed,
    with_signatures_swapped,
)

pytestmark = pytest.mark.timeout(60)

MAINNET = NETWORKS["bitcoin"]
ABANDON = " ".join(["abandon"] * 11 + ["about"])
P2TR_DEST = "bc1pldl36wjjzyew2xpvyyqmf3nu2k6u9xrwtsvvg7cyz4du4tnf7pgqzuwkvg"  # a real mainnet P2TR address
P2PKH_DEST = "1MZUaVy6y7vmwh2MqMKTFy2JiqXteyevpN"


@pytest.fixture(scope="module")
def signer() -> BitcoinHdSigner:
    return BitcoinHdSigner(ABANDON, MAINNET)


def _utxo(
    node: FakeBitcoinNode, signer: BitcoinHdSigner, chain: KeyChain, index: int, value: int
) -> SpendInput:
    """Mine a transaction paying `value` to the signer's key, and return it as a spendable input."""
    script = signer.script(chain, index)
    funding = funding_tx([(script, value)], tag=hash((chain, index, value)) & 0xFFFFFFFF)
    node.mine([funding])
    return SpendInput(b2lx(funding.GetTxid()), 0, value, script, chain, index)


def _sign_and_check(signer: BitcoinHdSigner, unsigned: UnsignedBitcoinTx, rpc: BitcoinRpc) -> CTransaction:
    """Sign; verify with the kernel; make the node's testmempoolaccept agree; check fee and RBF."""
    signed = signer.sign(unsigned)
    spent = [(i.script_pubkey, i.value) for i in unsigned.inputs]
    verify_tx(signed.raw, spent)
    check = rpc.testmempoolaccept(signed.raw)
    assert check.allowed, check.reject_reason
    assert check.fee == unsigned.fee
    rate = unsigned.details["fee_rate"]
    assert check.vsize <= unsigned.vsize_estimate <= check.vsize + len(unsigned.inputs)  # estimate is tight
    assert unsigned.fee >= rate * check.vsize  # the paid rate never falls below the asked one
    tx = CTransaction.deserialize(signed.raw)
    assert all(tx_in.nSequence == RBF_SEQUENCE for tx_in in tx.vin)
    # tampering breaks it: a changed value, and (with two inputs) exchanged signatures
    assert not is_valid(with_output_value_changed(signed.raw, 0, -1), spent)
    if len(spent) > 1:
        assert not is_valid(with_signatures_swapped(signed.raw, 0, 1), spent)
    return tx


def test_dust_thresholds_match_bitcoin_core() -> None:
    assert dust_threshold(address_to_script("bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu", MAINNET)) == 294
    assert dust_threshold(address_to_script(P2TR_DEST, MAINNET)) == 330
    assert dust_threshold(address_to_script(P2PKH_DEST, MAINNET)) == 546


def test_btc_return_sends_the_deposit_less_the_fee(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, signer: BitcoinHdSigner
) -> None:
    deposit = _utxo(bitcoin_node, signer, KeyChain.DEPOSIT, 3, 30_000)
    unsigned = build_btc_return(network=MAINNET, deposit=deposit, destination=P2TR_DEST, fee_rate=7)
    tx = _sign_and_check(signer, unsigned, bitcoin_rpc)
    assert len(tx.vout) == 1 and bytes(tx.vout[0].scriptPubKey) == address_to_script(P2TR_DEST, MAINNET)
    assert tx.vout[0].nValue == 30_000 - unsigned.fee


def test_btc_return_pays_the_approved_amount_and_keeps_the_fee_at_the_deposit_address(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, signer: BitcoinHdSigner
) -> None:
    deposit = _utxo(bitcoin_node, signer, KeyChain.DEPOSIT, 3, 30_000)
    unsigned = build_btc_return(
        network=MAINNET, deposit=deposit, destination=P2TR_DEST, fee_rate=7, amount=25_000
    )
    tx = _sign_and_check(signer, unsigned, bitcoin_rpc)
    assert [bytes(o.scriptPubKey) for o in tx.vout] == [
        address_to_script(P2TR_DEST, MAINNET),
        deposit.script_pubkey,
    ]
    assert [o.nValue for o in tx.vout] == [25_000 - unsigned.fee, 5_000]


def test_btc_return_gives_a_dust_remainder_to_the_miners_not_the_destination(signer: BitcoinHdSigner) -> None:
    deposit = SpendInput("aa" * 32, 0, 30_000, signer.script(KeyChain.DEPOSIT, 3), KeyChain.DEPOSIT, 3)
    unsigned = build_btc_return(
        network=MAINNET, deposit=deposit, destination=P2TR_DEST, fee_rate=7, amount=29_900
    )
    assert len(unsigned.outputs) == 1 and unsigned.outputs[0].value <= 29_900 - 7 * unsigned.vsize_estimate
    with pytest.raises(RefundRefused):
        build_btc_return(network=MAINNET, deposit=deposit, destination=P2TR_DEST, fee_rate=7, amount=30_001)


def test_btc_return_refuses_a_deposit_below_fee_plus_dust(signer: BitcoinHdSigner) -> None:
    script = signer.script(KeyChain.DEPOSIT, 3)
    # upper bound, 1 P2WPKH input -> 1 P2PKH output: 10.5 vB overhead + 68 vB input (72-byte signature)
    # + 34 vB output = 112.5, rounded up to 113 vB
    fee = 20 * 113
    just_enough = SpendInput("aa" * 32, 0, fee + 546, script, KeyChain.DEPOSIT, 3)
    build_btc_return(network=MAINNET, deposit=just_enough, destination=P2PKH_DEST, fee_rate=20)
    short = SpendInput("aa" * 32, 0, fee + 545, script, KeyChain.DEPOSIT, 3)
    with pytest.raises(RefundRefused, match="does not cover the fee"):
        build_btc_return(network=MAINNET, deposit=short, destination=P2PKH_DEST, fee_rate=20)


@pytest.mark.parametrize(
    "destination", ["tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "bc1qnotanaddress", ""]
)
def test_refunds_refuse_a_destination_not_of_the_network(signer: BitcoinHdSigner, destination: str) -> None:
    deposit = SpendInput("aa" * 32, 0, 50_000, signer.script(KeyChain.DEPOSIT, 0), KeyChain.DEPOSIT, 0)
    with pytest.raises(InvalidAddress):
        build_btc_return(network=MAINNET, deposit=deposit, destination=destination, fee_rate=5)


def test_builders_refuse_inputs_from_the_wrong_wallet_and_bad_rates(signer: BitcoinHdSigner) -> None:
    deposit = SpendInput("aa" * 32, 0, 50_000, signer.script(KeyChain.DEPOSIT, 0), KeyChain.DEPOSIT, 0)
    fee_side = SpendInput("bb" * 32, 0, 50_000, signer.script(KeyChain.FEE, 0), KeyChain.FEE, 0)
    with pytest.raises(RefundRefused, match="fee UTXO must be spent with a fee key"):
        build_inscription_return(
            network=MAINNET, inscribed=deposit, fee_utxo=deposit, destination=P2TR_DEST,
            change_script=fee_side.script_pubkey, fee_rate=5,
        )  # fmt: skip
    with pytest.raises(RefundRefused, match="fee rate"):
        build_btc_return(network=MAINNET, deposit=deposit, destination=P2TR_DEST, fee_rate=0)


def test_inscription_return_keeps_the_inscribed_value_in_output_zero(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, signer: BitcoinHdSigner
) -> None:
    inscribed = _utxo(bitcoin_node, signer, KeyChain.DEPOSIT, 4, 546)
    fee_utxo = _utxo(bitcoin_node, signer, KeyChain.FEE, 0, 20_000)
    change = signer.script(KeyChain.FEE, 0)
    unsigned = build_inscription_return(
        network=MAINNET, inscribed=inscribed, fee_utxo=fee_utxo, destination=P2TR_DEST,
        change_script=change, fee_rate=10,
    )  # fmt: skip
    tx = _sign_and_check(signer, unsigned, bitcoin_rpc)
    assert b2lx(tx.vin[0].prevout.hash) == inscribed.txid  # the inscribed sat is the first sat of input 0 ...
    assert (bytes(tx.vout[0].scriptPubKey), tx.vout[0].nValue) == (address_to_script(P2TR_DEST, MAINNET), 546)
    assert (bytes(tx.vout[1].scriptPubKey), tx.vout[1].nValue) == (change, 20_000 - unsigned.fee)


def test_inscription_return_refuses_a_fee_utxo_too_small(signer: BitcoinHdSigner) -> None:
    inscribed = SpendInput("aa" * 32, 0, 546, signer.script(KeyChain.DEPOSIT, 4), KeyChain.DEPOSIT, 4)
    fee_utxo = SpendInput("bb" * 32, 0, 1_000, signer.script(KeyChain.FEE, 0), KeyChain.FEE, 0)
    with pytest.raises(RefundRefused, match="cannot pay the fee"):
        build_inscription_return(
            network=MAINNET, inscribed=inscribed, fee_utxo=fee_utxo, destination=P2TR_DEST,
            change_script=fee_utxo.script_pubkey, fee_rate=50,
        )  # fmt: skip


def test_inscription_return_refuses_to_shrink_an_inscription_below_the_destination_dust(
    signer: BitcoinHdSigner,
) -> None:
    inscribed = SpendInput("aa" * 32, 0, 330, signer.script(KeyChain.DEPOSIT, 4), KeyChain.DEPOSIT, 4)
    fee_utxo = SpendInput("bb" * 32, 0, 50_000, signer.script(KeyChain.FEE, 0), KeyChain.FEE, 0)
    with pytest.raises(RefundRefused, match="dust"):
        build_inscription_return(
            network=MAINNET, inscribed=inscribed, fee_utxo=fee_utxo, destination=P2PKH_DEST,
            change_script=fee_utxo.script_pubkey, fee_rate=5,
        )  # fmt: skip


def test_runes_return_sends_every_rune_to_the_destination(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, signer: BitcoinHdSigner
) -> None:
    deposit = _utxo(bitcoin_node, signer, KeyChain.DEPOSIT, 6, 546)
    fee_utxo = _utxo(bitcoin_node, signer, KeyChain.FEE, 1, 30_000)
    runes = [("840000:3", 1_000), ("840000:1", 0)]  # out of order on purpose: edicts must be sorted
    unsigned = build_runes_return(
        network=MAINNET, deposit=deposit, fee_utxo=fee_utxo, destination=P2TR_DEST, runes=runes,
        change_script=signer.script(KeyChain.FEE, 1), fee_rate=8,
    )  # fmt: skip
    tx = _sign_and_check(signer, unsigned, bitcoin_rpc)
    assert (bytes(tx.vout[0].scriptPubKey), tx.vout[0].nValue) == (address_to_script(P2TR_DEST, MAINNET), 330)
    # the same runestone from ord's own encoder (pyord), built independently
    expected = pyord.Runestone(
        edicts=[pyord.Edict(pyord.RuneId(840000, 1), 0, 0), pyord.Edict(pyord.RuneId(840000, 3), 1_000, 0)],
        pointer=0,
    ).encipher()
    assert bytes(tx.vout[1].scriptPubKey) == expected
    decoded = decode_runestone(tx)
    assert decoded is not None and not decoded["cenotaph"]
    assert {e["output"] for e in decoded["edicts"]} == {0} and decoded["pointer"] == 0
    assert list(tokens_by_output(tx)) == [0]  # nothing rides on the change output


def test_omni_return_is_a_simple_send_from_the_deposit_to_the_last_output(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, signer: BitcoinHdSigner
) -> None:
    deposit = _utxo(bitcoin_node, signer, KeyChain.DEPOSIT, 8, 546)
    fee_utxo = _utxo(bitcoin_node, signer, KeyChain.FEE, 2, 25_000)
    unsigned = build_omni_return(
        network=MAINNET, deposit=deposit, fee_utxo=fee_utxo, destination=P2PKH_DEST, property_id=31,
        amount=12_345_678_900, change_script=signer.script(KeyChain.FEE, 2), fee_rate=6,
    )  # fmt: skip
    tx = _sign_and_check(signer, unsigned, bitcoin_rpc)
    # Omni Core's payload layout, written out by hand: marker, version 0, type 0, property 31, amount
    payload = b"omni" + bytes(4) + (31).to_bytes(4, "big") + (12_345_678_900).to_bytes(8, "big")
    assert bytes(tx.vout[0].scriptPubKey) == b"\x6a\x14" + payload
    assert decode_omni(tx) == {"protocol": "omni", "property_id": 31, "amount": 12_345_678_900}
    assert sender_script(tx) == deposit.script_pubkey
    reference = omni_reference_output(tx)
    assert reference == len(tx.vout) - 1
    assert bytes(tx.vout[reference].scriptPubKey) == address_to_script(P2PKH_DEST, MAINNET)


def test_omni_return_refuses_change_to_the_deposit_address(signer: BitcoinHdSigner) -> None:
    deposit = SpendInput("aa" * 32, 0, 546, signer.script(KeyChain.DEPOSIT, 8), KeyChain.DEPOSIT, 8)
    fee_utxo = SpendInput("bb" * 32, 0, 25_000, signer.script(KeyChain.FEE, 2), KeyChain.FEE, 2)
    with pytest.raises(RefundRefused, match="change"):
        build_omni_return(
            network=MAINNET, deposit=deposit, fee_utxo=fee_utxo, destination=P2PKH_DEST, property_id=31,
            amount=1, change_script=deposit.script_pubkey, fee_rate=6,
        )  # fmt: skip
