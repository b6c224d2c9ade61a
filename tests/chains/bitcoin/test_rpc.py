"""The RPC client against a node speaking bitcoind's protocol: results, and every failure mapped by name."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest
from bitcoin.core import CTransaction

from chains.base import ChainError, TransientChainError, TxNotFound
from chains.bitcoin.rpc import (
    BitcoinRpc,
    BlockNotFound,
    InvalidParameter,
    RpcAuthError,
    RpcError,
    RpcTimeout,
    SendOutcome,
    btc_to_sats,
)
from tests.chains.bitcoin.fake_node import FakeBitcoinNode, fixture_tx_hex

pytestmark = pytest.mark.timeout(60)

# 10 txs of block 702861 have their own fixture file; index 1 in the block
TX_702861_1 = "7bf717689b9033eafb2f3272719989b304bb7db616c2bfb5ded2e1b76d50a4f0"


def _client(node: FakeBitcoinNode, timeout: float = 5.0) -> BitcoinRpc:
    return BitcoinRpc(node.url, user=node.user, password=node.password, timeout=timeout)


def test_chain_reads_follow_the_node(bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc) -> None:
    block_hash = bitcoin_node.mine([fixture_tx_hex(TX_702861_1)])
    assert bitcoin_rpc.getblockcount() == 800_001
    assert bitcoin_rpc.getblockhash(800_001) == block_hash
    header = bitcoin_rpc.getblockheader(block_hash)
    assert header["height"] == 800_001 and header["confirmations"] == 1
    assert header["previousblockhash"] == bitcoin_rpc.getblockhash(800_000)
    assert bytes.fromhex(fixture_tx_hex(TX_702861_1)) in bitcoin_rpc.getblock_raw(block_hash)


def test_amounts_are_exact_satoshis(bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc) -> None:
    raw = fixture_tx_hex(TX_702861_1)
    bitcoin_node.mine([raw])
    expected = [out.nValue for out in CTransaction.deserialize(bytes.fromhex(raw)).vout]
    tx = bitcoin_rpc.getrawtransaction(TX_702861_1, 1)
    assert [btc_to_sats(out["value"]) for out in tx["vout"]] == expected
    assert all(isinstance(out["value"], Decimal) for out in tx["vout"])


def test_fee_estimate_converts_btc_per_kvb_to_sat_per_vb(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc
) -> None:
    bitcoin_node.fee_rate_btc_kvb = Decimal("0.00012345")  # 12,345 sat per 1000 vB
    estimate = bitcoin_rpc.estimatesmartfee(6)
    assert estimate is not None and estimate.sat_per_vb == Decimal("12.345")
    bitcoin_node.fee_rate_btc_kvb = None
    assert bitcoin_rpc.estimatesmartfee(6) is None


def test_height_out_of_range_is_invalid_parameter(bitcoin_rpc: BitcoinRpc) -> None:
    with pytest.raises(InvalidParameter) as caught:
        bitcoin_rpc.getblockhash(10**7)
    assert caught.value.code == -8


def test_unknown_transaction_is_tx_not_found(bitcoin_rpc: BitcoinRpc) -> None:
    with pytest.raises(TxNotFound):
        bitcoin_rpc.getrawtransaction("ab" * 32)


def test_unknown_block_is_block_not_found(bitcoin_rpc: BitcoinRpc) -> None:
    with pytest.raises(BlockNotFound):
        bitcoin_rpc.getblockheader("cd" * 32)


def test_unknown_method_is_an_rpc_error_not_a_transient_one(bitcoin_rpc: BitcoinRpc) -> None:
    with pytest.raises(RpcError) as caught:
        bitcoin_rpc.call("getnothing")
    assert caught.value.code == -32601 and not isinstance(caught.value, TransientChainError)


def test_wrong_credentials_are_a_configuration_error(bitcoin_node: FakeBitcoinNode) -> None:
    client = BitcoinRpc(bitcoin_node.url, user="rpcuser", password="wrong")
    with pytest.raises(RpcAuthError):
        client.getblockcount()
    assert not issubclass(RpcAuthError, TransientChainError)


def test_connection_refused_is_transient() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientChainError):
        BitcoinRpc(f"http://127.0.0.1:{port}/", timeout=2).getblockcount()


def test_slow_node_is_a_timeout(bitcoin_node: FakeBitcoinNode) -> None:
    bitcoin_node.fail_next("getblockcount", "timeout", delay=1.0)
    with pytest.raises(RpcTimeout):
        _client(bitcoin_node, timeout=0.3).getblockcount()


@pytest.mark.parametrize("kind", ["http500", "http503", "disconnect"])
def test_5xx_without_an_rpc_answer_and_dropped_connections_are_transient(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, kind: str
) -> None:
    bitcoin_node.fail_next("getblockcount", kind)
    with pytest.raises(TransientChainError):
        bitcoin_rpc.getblockcount()
    assert bitcoin_rpc.getblockcount() == 800_000  # the next call is answered


def test_warming_up_node_is_transient(bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc) -> None:
    bitcoin_node.fail_next("getblockcount", "error", code=-28, message="Loading block index...")
    with pytest.raises(TransientChainError):
        bitcoin_rpc.getblockcount()


def test_send_of_a_mined_transaction_is_already_known(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc
) -> None:
    raw = bytes.fromhex(fixture_tx_hex(TX_702861_1))
    bitcoin_node.mine([raw])
    result = bitcoin_rpc.sendrawtransaction(raw)
    assert result.outcome is SendOutcome.ALREADY_KNOWN and result.code == -27


@pytest.mark.parametrize(
    ("code", "message", "outcome"),
    [
        (-26, "txn-already-known", SendOutcome.ALREADY_KNOWN),
        (-27, "Transaction already in block chain", SendOutcome.ALREADY_KNOWN),
        (-26, "min relay fee not met, 100 < 141", SendOutcome.REJECTED),
        (-26, "txn-mempool-conflict", SendOutcome.REJECTED),
        (-25, "bad-txns-inputs-missingorspent", SendOutcome.MISSING_INPUTS),
        (-22, "TX decode failed", SendOutcome.REJECTED),
    ],
)
def test_send_answers_are_named_results(
    bitcoin_node: FakeBitcoinNode, bitcoin_rpc: BitcoinRpc, code: int, message: str, outcome: SendOutcome
) -> None:
    bitcoin_node.fail_next("sendrawtransaction", "error", code=code, message=message)
    result = bitcoin_rpc.sendrawtransaction(b"\x00")
    assert (result.outcome, result.code, result.reason) == (outcome, code, message)


def test_send_with_unknown_inputs_is_missing_inputs(bitcoin_rpc: BitcoinRpc) -> None:
    result = bitcoin_rpc.sendrawtransaction(bytes.fromhex(fixture_tx_hex(TX_702861_1)))
    assert result.outcome is SendOutcome.MISSING_INPUTS and result.code == -25


def test_testmempoolaccept_reports_the_reject_reason(bitcoin_rpc: BitcoinRpc) -> None:
    check = bitcoin_rpc.testmempoolaccept(bytes.fromhex(fixture_tx_hex(TX_702861_1)))
    assert check.txid == TX_702861_1 and not check.allowed and check.reject_reason == "missing-inputs"


def test_btc_to_sats_refuses_fractions_of_a_satoshi() -> None:
    assert btc_to_sats(Decimal("20999999.97690000")) == 2_099_999_997_690_000
    with pytest.raises(ValueError):
        btc_to_sats(Decimal("0.000000001"))
    assert issubclass(RpcError, ChainError)
