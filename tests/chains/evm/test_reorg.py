"""Reorgs on a real anvil node (anvil_reorg, anvil_rollback): hashes change and rescans see the new chain."""

from __future__ import annotations

import time

import pytest
from eth_utils import keccak, to_checksum_address

from chains.base import ChainError
from chains.evm.chain import EvmChain
from chains.evm.devnet import ANVIL, Anvil, DeployedContract, deploy_contract, encode_call
from chains.watchset import AddressSet

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(60)]

Contracts = dict[str, DeployedContract]
DEPOSIT = to_checksum_address(keccak(text="reorg deposit")[12:])


@pytest.fixture
def watched() -> AddressSet:
    return AddressSet([DEPOSIT])


def test_depth_one_reorg_changes_the_block_hash_and_orphans_the_transfer(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil = evm_snapshot
    anvil.transact(evm_contracts["TestToken"], "mint", DEPOSIT, 1000)
    head = anvil.head()
    before = evm_chain.scan(head, head, watched)
    assert len(before.transfers) == 1

    anvil.reorg(1)  # the block is replaced by an empty one at the same height

    after = evm_chain.scan(head, head, watched)
    assert anvil.head() == head
    assert after.blocks[0].hash != before.blocks[0].hash
    assert after.blocks[0].parent_hash == before.blocks[0].parent_hash
    assert after.transfers == ()


@pytest.fixture(scope="module")
def own_node(anvil_factory) -> tuple[Anvil, DeployedContract, EvmChain]:
    """A node of its own: replacing blocks with a pre-signed transaction depends on nothing any other test
    did to the shared node (it failed only in full CI runs there, never alone)."""
    node = anvil_factory()
    return (
        node,
        deploy_contract(node, "TestToken", ("Test Token", "TT", 18)),
        EvmChain(ANVIL.replace(rpc_url=node.url), rpc=node.rpc),
    )


def test_deeper_reorg_moves_the_transfer_into_a_new_block(own_node, watched: AddressSet) -> None:
    anvil, token, evm_chain = own_node
    # The replacement reuses the orphaned mint's nonce: after the reorg, the fork point's state is the one
    # that counts, and a nonce taken from the replaced chain would make anvil drop the transaction.
    first_mint = anvil.transact(token, "mint", DEPOSIT, 5)
    minted_in = int(anvil.wait_receipt(first_mint)["blockNumber"], 16)
    nonce = int(anvil.rpc.call("eth_getTransactionByHash", [first_mint])["nonce"], 16)
    anvil.mine(2)
    deadline = time.monotonic() + 10
    while anvil.head() < minted_in + 2 and time.monotonic() < deadline:  # sealed asynchronously
        time.sleep(0.05)
    head = anvil.head()
    old = evm_chain.scan(head - 2, head, watched)
    (orphaned,) = old.transfers
    assert orphaned.block_number == head - 2

    # Three blocks replaced; a mint of 6 lands in the second replacement block (offset 1).
    mint = {
        "from": anvil.accounts[0],
        "to": token.address,
        "data": encode_call(token.abi, "mint", [DEPOSIT, 6]),
        "gas": 200_000,  # anvil_reorg does not estimate gas, nor price it: a fee well above any base fee
        "maxFeePerGas": 100 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": nonce,
    }
    anvil.reorg(3, [(mint, 1)])

    new = evm_chain.scan(head - 2, anvil.head(), watched)
    deadline = time.monotonic() + 30
    while not new.transfers and time.monotonic() < deadline:  # the node seals replacement blocks async
        time.sleep(0.05)
        new = evm_chain.scan(head - 2, anvil.head(), watched)
    replaced = anvil.rpc.call("eth_getBlockByNumber", [hex(head - 1), False])
    assert [(t.amount, t.block_number) for t in new.transfers] == [(6, head - 1)], replaced
    assert new.transfers[0].block_hash == evm_chain.block_ref(head - 1).hash
    assert all(o.hash != n.hash for o, n in zip(old.blocks, new.blocks, strict=True))
    assert new.blocks[0].parent_hash == old.blocks[0].parent_hash  # the fork point is below the range


def wait_for_code(anvil: Anvil, address: str) -> None:
    """anvil seals mined blocks asynchronously; wait until the latest state shows the contract again."""
    deadline = time.monotonic() + 10
    while anvil.rpc.call("eth_getCode", [address, "latest"]) in ("0x", "") and time.monotonic() < deadline:
        time.sleep(0.05)


def test_rollback_removes_blocks_and_the_new_chain_differs(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil = evm_snapshot
    anvil.transact(evm_contracts["TestToken"], "mint", DEPOSIT, 9)
    anvil.mine(1)
    head = anvil.head()
    old_refs = evm_chain.scan(head - 1, head, watched).blocks

    anvil.rollback(2)

    assert anvil.head() == head - 2
    with pytest.raises(ChainError):
        evm_chain.block_ref(head)
    anvil.mine(2)
    wait_for_code(anvil, evm_contracts["TestToken"].address)
    rescan = evm_chain.scan(head - 1, head, watched)
    assert rescan.transfers == ()
    assert [r.hash for r in rescan.blocks] != [r.hash for r in old_refs]
    assert anvil.call(evm_contracts["TestToken"], "balanceOf", DEPOSIT) == 0
