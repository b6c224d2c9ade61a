"""Claim lookup against a real anvil node: each status, each error, and the JSON the lead prints."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_utils import keccak, to_checksum_address

from chains.base import InvalidTxid, Receipt, Standard, TxNotFound, TxStatus
from chains.evm.chain import EvmChain, TokenMetadata, lookup_as_json
from chains.evm.devnet import Anvil, DeployedContract
from chains.watchset import AddressSet

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(60)]

Contracts = dict[str, DeployedContract]
DEPOSIT = to_checksum_address(keccak(text="lookup deposit")[12:])
OTHER = to_checksum_address(keccak(text="lookup other")[12:])


def test_successful_token_transfer_lists_every_transfer_with_confirmations(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil, multi = evm_snapshot, evm_contracts["TestMultiToken"]
    owner = anvil.accounts[1]
    anvil.transact(multi, "mintBatch", owner, [5, 6], [50, 60])
    txid = anvil.transact(multi, "safeBatchTransferFrom", owner, DEPOSIT, [5, 6], [5, 6], b"", sender=owner)
    receipt = anvil.wait_receipt(txid)
    anvil.mine(3)

    lookup = evm_chain.lookup_tx(txid.upper().replace("0X", "0x"))

    assert (lookup.status, lookup.txid, lookup.block_hash) == (TxStatus.SUCCESS, txid, receipt["blockHash"])
    assert lookup.block_number == int(receipt["blockNumber"], 16)
    assert lookup.confirmations == 4  # its own block plus three on top
    assert [(t.token_id, t.amount, t.sub_index, t.sender, t.recipient) for t in lookup.transfers] == [
        (5, 5, 0, owner, DEPOSIT),
        (6, 6, 1, owner, DEPOSIT),
    ]


def test_lookup_limited_to_watched_addresses(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil = evm_snapshot
    # One transaction, three native transfers: 20 wei to the forwarder, which passes 10 to each target.
    forwarder = evm_contracts["Forwarder"].address
    txid = anvil.transact(evm_contracts["Forwarder"], "split", [DEPOSIT, OTHER], value=20)

    everything = evm_chain.lookup_tx(txid)
    ours = evm_chain.lookup_tx(txid, AddressSet([DEPOSIT]))

    assert sorted((t.recipient, t.amount) for t in everything.transfers) == sorted(
        [(forwarder, 20), (DEPOSIT, 10), (OTHER, 10)]
    )
    assert [(t.recipient, t.amount, t.standard) for t in ours.transfers] == [(DEPOSIT, 10, Standard.NATIVE)]


def test_reverted_transaction_is_failed_with_no_transfers(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil, token = evm_snapshot, evm_contracts["RevertingToken"]
    anvil.transact(token, "mint", anvil.accounts[1], 10)
    txid = anvil.transact(token, "transfer", DEPOSIT, 1, sender=anvil.accounts[1], gas=200_000)

    lookup = evm_chain.lookup_tx(txid)

    assert (lookup.status, lookup.transfers) == (TxStatus.FAILED, ())
    assert lookup.block_number == int(anvil.wait_receipt(txid)["blockNumber"], 16)


def test_transaction_in_the_mempool_is_pending(evm_snapshot: Anvil, evm_chain: EvmChain) -> None:
    anvil = evm_snapshot
    anvil.set_automine(False)
    txid = anvil.send({"from": anvil.accounts[1], "to": DEPOSIT, "value": 777}, wait=False)

    lookup = evm_chain.lookup_tx(txid)

    assert (lookup.status, lookup.block_number, lookup.confirmations) == (TxStatus.PENDING, None, 0)
    assert [(t.recipient, t.amount, t.block_number) for t in lookup.transfers] == [(DEPOSIT, 777, None)]
    anvil.mine(1)
    assert evm_chain.lookup_tx(txid).status == TxStatus.SUCCESS


@pytest.mark.parametrize(
    "text",
    ["", "0x", "0x1234", "1" * 64, "0x" + "g" * 64, "0x" + "a" * 63, "0x" + "a" * 65, "0X" + "a" * 64],
)
def test_malformed_txid_is_rejected_before_asking_the_node(evm_chain: EvmChain, text: str) -> None:
    with pytest.raises(InvalidTxid):
        evm_chain.lookup_tx(text)


def test_unknown_txid_is_not_found(evm_chain: EvmChain) -> None:
    with pytest.raises(TxNotFound):
        evm_chain.lookup_tx("0x" + keccak(text="never sent").hex())


def test_txid_from_another_network_is_not_found(
    evm_chain: EvmChain, anvil_factory: Callable[..., Anvil]
) -> None:
    other = anvil_factory(chain_id=1337)
    txid = other.send({"from": other.accounts[5], "to": DEPOSIT, "value": 1})

    with pytest.raises(TxNotFound):
        evm_chain.lookup_tx(txid)


def test_lookup_as_json_has_exactly_the_printed_shape(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil, token = evm_snapshot, evm_contracts["TestToken"]
    sender = anvil.accounts[1]
    anvil.transact(token, "mint", sender, 100)
    txid = anvil.transact(token, "transfer", DEPOSIT, 60, sender=sender)
    receipt = anvil.wait_receipt(txid)
    native = anvil.send({"from": sender, "to": DEPOSIT, "value": 5})

    assert lookup_as_json(evm_chain.lookup_tx(txid)) == {
        "network": "anvil",
        "txid": txid,
        "status": "success",
        "block": int(receipt["blockNumber"], 16),
        "transfers": [
            {
                "standard": "erc20",
                "contract": token.address,
                "from": sender,
                "to": DEPOSIT,
                "amount": 60,
                "token_id": None,
                "log_index": int(receipt["logs"][0]["logIndex"], 16),
            }
        ],
    }
    assert lookup_as_json(evm_chain.lookup_tx(native))["transfers"] == [
        {
            "standard": "native",
            "contract": None,
            "from": sender,
            "to": DEPOSIT,
            "amount": 5,
            "token_id": None,
            "log_index": None,
        }
    ]


# --- token reads and receipts -----------------------------------------------------------------------


def test_token_balance_reads_each_standard(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil = evm_snapshot
    anvil.transact(evm_contracts["TestToken"], "mint", DEPOSIT, 31)
    anvil.transact(evm_contracts["TestNFT"], "mint", DEPOSIT, 8)
    anvil.transact(evm_contracts["TestNFT"], "mint", OTHER, 9)
    anvil.transact(evm_contracts["TestMultiToken"], "mint", DEPOSIT, 4, 44)
    anvil.set_balance(DEPOSIT, 123)

    balance = evm_chain.token_balance
    assert balance(evm_contracts["TestToken"].address, DEPOSIT, Standard.ERC20) == 31
    assert balance(evm_contracts["TestNFT"].address, DEPOSIT, Standard.ERC721, 8) == 1
    assert balance(evm_contracts["TestNFT"].address, DEPOSIT, Standard.ERC721, 9) == 0
    assert balance(evm_contracts["TestNFT"].address, DEPOSIT, Standard.ERC721, 10) == 0  # never minted
    assert balance(evm_contracts["TestMultiToken"].address, DEPOSIT, Standard.ERC1155, 4) == 44
    assert balance(evm_contracts["TestMultiToken"].address, DEPOSIT, Standard.ERC1155, 5) == 0
    assert balance(None, DEPOSIT, Standard.NATIVE) == 123


def test_token_metadata_tolerates_tokens_without_it(evm_contracts: Contracts, evm_chain: EvmChain) -> None:
    standard = evm_chain.token_metadata(evm_contracts["TestToken"].address)
    assert (standard.symbol, standard.decimals, standard.name) == ("TT", 18, "Test Token")
    assert evm_chain.token_metadata(evm_contracts["NoReturnToken"].address).decimals == 6
    nft = evm_chain.token_metadata(evm_contracts["TestNFT"].address)
    assert (nft.symbol, nft.decimals) == ("TNFT", None)
    assert evm_chain.token_metadata(evm_contracts["Spray"].address) == TokenMetadata(None, None, None)
    assert evm_chain.token_metadata(DEPOSIT) == TokenMetadata(None, None, None)  # not a contract at all


def test_is_contract_tells_code_from_accounts(evm_contracts: Contracts, evm_chain: EvmChain) -> None:
    assert evm_chain.is_contract(evm_contracts["Forwarder"].address)
    assert not evm_chain.is_contract(DEPOSIT)


def test_receipt_reports_status_fee_and_pending(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil = evm_snapshot
    txid = anvil.send({"from": anvil.accounts[1], "to": DEPOSIT, "value": 1})
    raw = anvil.wait_receipt(txid)
    receipt = evm_chain.receipt(txid)
    assert receipt is not None and receipt.status == TxStatus.SUCCESS and receipt.confirmations == 1
    assert receipt.fee_paid == int(raw["gasUsed"], 16) * int(raw["effectiveGasPrice"], 16)
    assert evm_chain.receipt("0x" + "00" * 32) is None
    anvil.set_automine(False)
    pending = anvil.send({"from": anvil.accounts[1], "to": DEPOSIT, "value": 1}, wait=False)
    assert evm_chain.receipt(pending) == Receipt(pending, TxStatus.PENDING, None, None, 0)
