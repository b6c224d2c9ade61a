"""The dev node and the test contracts behave as the tests and the demo rely on."""

from __future__ import annotations

import pytest

from chains.evm.devnet import (
    COMPILE_CACHE,
    Anvil,
    DeployedContract,
    _sources_digest,
    compile_contracts,
    encode_call,
)
from tests.fixtures_anvil import DEPLOYMENTS, FEE_TOKEN_BPS

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(60)]


def _status(anvil: Anvil, txid: str) -> int:
    return int(anvil.wait_receipt(txid)["status"], 16)


def test_node_reports_the_requested_chain_id(anvil: Anvil) -> None:
    assert int(anvil.rpc.call("eth_chainId"), 16) == 31337
    assert anvil.url.startswith("http://127.0.0.1:")


def test_compiled_artifacts_are_cached_by_source_hash() -> None:
    artifacts = compile_contracts()
    assert (COMPILE_CACHE / f"{_sources_digest()}.json").is_file()
    assert {name for name, _ in DEPLOYMENTS.values()} <= set(artifacts)


def test_every_test_contract_is_deployed_with_code(
    anvil: Anvil, evm_contracts: dict[str, DeployedContract]
) -> None:
    for contract in evm_contracts.values():
        assert anvil.rpc.call("eth_getCode", [contract.address, "latest"]) not in ("0x", None)


def test_snapshot_fixture_undoes_the_test_state(anvil: Anvil) -> None:
    address = "0x000000000000000000000000000000000000dEaD"
    before = anvil.balance(address)
    snapshot_id = anvil.snapshot()
    anvil.set_balance(address, before + 12345)
    assert anvil.balance(address) == before + 12345
    assert anvil.revert(snapshot_id)
    assert anvil.balance(address) == before


def test_no_return_token_transfer_returns_no_data(
    evm_snapshot: Anvil, evm_contracts: dict[str, DeployedContract]
) -> None:
    anvil, token = evm_snapshot, evm_contracts["NoReturnToken"]
    sender, recipient = anvil.accounts[1], anvil.accounts[2]
    anvil.transact(token, "mint", sender, 500)
    data = encode_call(token.abi, "transfer", [recipient, 200])
    assert anvil.rpc.call("eth_call", [{"from": sender, "to": token.address, "data": data}, "latest"]) == "0x"
    assert _status(anvil, anvil.transact(token, "transfer", recipient, 200, sender=sender)) == 1
    assert anvil.call(token, "balanceOf", recipient) == 200


def test_fee_token_recipient_receives_amount_minus_fee(
    evm_snapshot: Anvil, evm_contracts: dict[str, DeployedContract]
) -> None:
    anvil, token = evm_snapshot, evm_contracts["FeeToken"]
    sender, recipient = anvil.accounts[1], anvil.accounts[2]
    anvil.transact(token, "mint", sender, 10_000)
    anvil.transact(token, "transfer", recipient, 10_000, sender=sender)
    assert anvil.call(token, "balanceOf", recipient) == 10_000 - 10_000 * FEE_TOKEN_BPS // 10_000


def test_reverting_token_can_be_minted_but_not_moved(
    evm_snapshot: Anvil, evm_contracts: dict[str, DeployedContract]
) -> None:
    anvil, token = evm_snapshot, evm_contracts["RevertingToken"]
    holder = anvil.accounts[1]
    anvil.transact(token, "mint", holder, 7)
    txid = anvil.transact(token, "transfer", anvil.accounts[2], 1, sender=holder, gas=100_000)
    assert _status(anvil, txid) == 0
    assert anvil.call(token, "balanceOf", holder) == 7


def test_forwarder_passes_native_value_on(
    evm_snapshot: Anvil, evm_contracts: dict[str, DeployedContract]
) -> None:
    anvil = evm_snapshot
    recipient = "0x00000000000000000000000000000000000fEEd1"
    anvil.transact(evm_contracts["Forwarder"], "forward", recipient, value=3 * 10**15)
    assert anvil.balance(recipient) == 3 * 10**15
