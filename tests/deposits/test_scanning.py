"""The scanner on a real node: confirmed deposits recorded once and classified; reorgs orphan them."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from chains.evm.devnet import deploy_contract, encode_call
from chains.evm.signer import EvmUnsigned, Fees, LocalHDSigner
from recovery.deposits.locks import lock_key
from recovery.deposits.scanning import network_scan
from recovery.models import (
    Deposit,
    DepositClass,
    DepositStatus,
    ListedAsset,
    Network,
    ScanCursor,
)
from recovery.onchain.registry import forget_chains
from tests import payout_env
from tests.processes import database_url_for_tests

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]
CONFIRMATIONS = payout_env.CONFIRMATIONS


@pytest.fixture
def chain_env(payout):
    """The payout setting (a scanned anvil network, alice's deposit address) with TT and ETH listed."""
    network, contracts = payout.network, payout.contracts
    ListedAsset.objects.create(
        network=network, symbol="TT", contract=contracts["TestToken"].address, decimals=18
    )
    ListedAsset.objects.create(network=network, symbol="ETH", contract="", decimals=18, min_deposit=10**15)
    return payout.node, network, payout.deposit_address, contracts


def send_all_kinds(node, contracts, to: str) -> dict[str, str]:
    user = node.accounts[3]
    txids = {}
    for name in ("TestToken", "NoReturnToken"):
        node.transact(contracts[name], "mint", user, 5 * 10**18)
        txids[name] = node.transact(contracts[name], "transfer", to, 10**18, sender=user)
    node.transact(contracts["TestNFT"], "mint", user, 77)
    txids["TestNFT"] = node.transact(contracts["TestNFT"], "safeTransferFrom", user, to, 77, sender=user)
    txids["native"] = node.send({"from": user, "to": to, "value": 2 * 10**15})
    txids["dust"] = node.send({"from": user, "to": to, "value": 10**12})
    node.transact(contracts["TestToken"], "transfer", node.accounts[5], 10**18, sender=user)  # not ours
    return txids


def test_confirmed_deposits_of_every_kind_are_recorded_once_and_classified(chain_env):
    node, network, address, contracts = chain_env
    txids = send_all_kinds(node, contracts, address)
    node.mine(CONFIRMATIONS)

    report = network_scan(network_id=network.pk)

    by_tx = {d.txid: d for d in Deposit.objects.filter(network=network)}
    assert set(by_tx) == set(txids.values())
    expected = {
        "TestToken": DepositClass.LISTED,
        "NoReturnToken": DepositClass.UNSUPPORTED_TOKEN,
        "TestNFT": DepositClass.NFT,
        "native": DepositClass.LISTED,
        "dust": DepositClass.BELOW_MINIMUM,
    }
    assert {name: by_tx[txid].classification for name, txid in txids.items()} == expected
    nft = by_tx[txids["TestNFT"]]
    assert (nft.standard, nft.token_id, nft.amount) == ("erc721", 77, 1)
    assert all(
        d.status == DepositStatus.CONFIRMED and d.deposit_address.address == address for d in by_tx.values()
    )
    assert report.recorded == 5

    again = network_scan(network_id=network.pk)
    assert again.recorded == 0 and Deposit.objects.count() == 5


def test_nothing_is_recorded_before_the_confirmation_depth(chain_env):
    node, network, address, contracts = chain_env
    network_scan(network_id=network.pk)  # creates the cursor at the current confirmed head
    send_all_kinds(node, contracts, address)
    node.mine(CONFIRMATIONS - 1)

    network_scan(network_id=network.pk)
    head = node.head()

    assert not Deposit.objects.filter(block_number__gt=head - CONFIRMATIONS).exists()
    assert ScanCursor.objects.get(network=network).last_block == head - CONFIRMATIONS


@pytest.mark.parametrize("depth", [1, 3])
def test_a_reorg_orphans_the_deposits_of_replaced_blocks(chain_env, depth):
    node, network, address, contracts = chain_env
    user = node.accounts[3]
    node.transact(contracts["NoReturnToken"], "mint", user, 10**18)
    txid = node.transact(contracts["NoReturnToken"], "transfer", address, 10**18, sender=user)
    node.mine(CONFIRMATIONS)
    network_scan(network_id=network.pk)
    deposit = Deposit.objects.get(txid=txid)
    assert deposit.status == DepositStatus.CONFIRMED

    # Replace the deposit's block and those above it with empty ones, then build past the depth again.
    blocks_to_replace = node.head() - deposit.block_number + 1
    assert blocks_to_replace <= depth + CONFIRMATIONS
    node.reorg(max(depth, blocks_to_replace))
    node.mine(CONFIRMATIONS + 1)
    report = network_scan(network_id=network.pk)

    deposit.refresh_from_db()
    assert deposit.status == DepositStatus.ORPHANED
    assert report.rewound_to is not None and report.rewound_to < deposit.block_number


def test_a_deposit_mined_again_after_a_reorg_is_confirmed_in_its_new_block(chain_env, anvil_factory):
    """On a node of its own: on the long-lived session node, after hundreds of snapshot reverts, anvil's
    rollback now and then restored a state in which the re-sent transfer reverted (a receipt without
    logs). The scanner rightly left that deposit orphaned, but it is not what this test is about."""
    _, network, address, _ = chain_env
    node = anvil_factory(chain_id=31337)
    token = deploy_contract(node, "NoReturnToken")
    options = {**network.options, "start_block": node.head() + 1}
    Network.objects.filter(pk=network.pk).update(rpc_url=node.url, options=options)
    network.refresh_from_db()
    forget_chains()
    contracts = {"NoReturnToken": token}
    user_index = 3  # anvil's account 3 is index 3 of the same development mnemonic
    user = node.accounts[user_index]
    node.transact(contracts["NoReturnToken"], "mint", user, 10**18)
    signed = LocalHDSigner(settings.SIGNER_MNEMONIC).sign(
        EvmUnsigned(
            key=user_index,
            chain_id=31337,
            nonce=int(node.rpc.call("eth_getTransactionCount", [user, "latest"]), 16),
            to=contracts["NoReturnToken"].address,
            value=0,
            gas=100_000,
            fees=Fees(max_fee_per_gas=10 * 10**9, max_priority_fee_per_gas=10**9),
            data=bytes.fromhex(
                encode_call(contracts["NoReturnToken"].abi, "transfer", [address, 10**18])[2:]
            ),
        )
    )
    raw = "0x" + signed.raw.hex()
    txid = node.rpc.call("eth_sendRawTransaction", [raw])
    node.wait_receipt(txid)  # anvil seals asynchronously: first the block holding it, then the depth
    node.mine(CONFIRMATIONS)
    network_scan(network_id=network.pk)
    first = Deposit.objects.get(txid=txid)

    node.rollback(CONFIRMATIONS + 1)  # the deposit's block and those above it are gone
    node.mine(1)
    base = node.head()
    assert node.rpc.call("eth_sendRawTransaction", [raw]) == txid  # the same bytes, now in a later block
    # anvil seals asynchronously and may still answer with the rolled-back receipt: wait for the new one.
    deadline = time.monotonic() + 10
    while mined_in(node, txid) <= base:
        assert time.monotonic() < deadline, "the re-sent deposit was not mined"
        time.sleep(0.05)
    assert node.rpc.call("eth_getTransactionReceipt", [txid])["status"] == "0x1", "the re-sent transfer"
    node.mine(CONFIRMATIONS + 1)
    network_scan(network_id=network.pk)

    deposit = Deposit.objects.get(txid=txid)
    assert deposit.status == DepositStatus.CONFIRMED
    assert (deposit.block_number, deposit.block_hash) != (first.block_number, first.block_hash)
    assert Deposit.objects.filter(txid=txid).count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks are PostgreSQL's")
def test_a_second_scanner_of_the_same_network_stands_aside(chain_env):
    _, network, _, _ = chain_env
    with psycopg.connect(database_url_for_tests(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [lock_key("scan:anvil")])
        report = network_scan(network_id=network.pk)
    assert report.skipped and not ScanCursor.objects.exists()


def mined_in(node, txid: str) -> int:
    receipt = node.rpc.call("eth_getTransactionReceipt", [txid]) or {}
    return int(receipt.get("blockNumber", "0x0"), 16)
