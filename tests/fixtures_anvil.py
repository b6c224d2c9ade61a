"""Pytest fixtures for a real anvil node: one node per session, the test contracts, snapshot isolation.

Fixtures:
  anvil           session: the running node (chains.evm.devnet.Anvil), chain id 31337
  evm_contracts   session: {name: DeployedContract}, deployed once (see DEPLOYMENTS)
  evm_snapshot    function: the same node, reverted after the test to its state before it
  anvil_factory   session: start(**Anvil options) -> an extra node (e.g. no_mining=True), stopped at the end
  evm_chain       session: an EvmChain (preset "anvil", traces on) reading the session node

Session fixtures are set up before function ones, so a test asking for both evm_contracts and evm_snapshot
snapshots after the deployment. A test that changes chain state should ask for evm_snapshot.
Without the anvil binary, tests skip, except under CI (env var CI set) where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chains.evm.chain import EvmChain
from chains.evm.devnet import ANVIL, ANVIL_BIN, Anvil, DeployedContract, anvil_available, deploy_contract

# name -> (contract, constructor args). The fee token burns 1% (100 basis points) of every transfer.
DEPLOYMENTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "TestToken": ("TestToken", ("Test Token", "TT", 18)),
    "NoReturnToken": ("NoReturnToken", ()),
    "FeeToken": ("FeeToken", (100,)),
    "RevertingToken": ("RevertingToken", ()),
    "TestNFT": ("TestNFT", ()),
    "TestMultiToken": ("TestMultiToken", ()),
    "Spray": ("Spray", ()),
    "Forwarder": ("Forwarder", ()),
    "BadLogEmitter": ("BadLogEmitter", ()),
    "GasDisperse": ("GasDisperse", ()),
    "LegacyToken": ("LegacyToken", ()),
    "BlacklistToken": ("BlacklistToken", ()),
    "FalseReturnToken": ("FalseReturnToken", ()),
}
FEE_TOKEN_BPS = 100


def require_anvil() -> None:
    if anvil_available():
        return
    message = f"anvil binary missing at {ANVIL_BIN}: run `npm ci`"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    require_anvil()
    node = Anvil(chain_id=31337)
    node.start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def evm_contracts(anvil: Anvil) -> dict[str, DeployedContract]:
    return {key: deploy_contract(anvil, name, args) for key, (name, args) in DEPLOYMENTS.items()}


@pytest.fixture
def evm_snapshot(anvil: Anvil) -> Iterator[Anvil]:
    snapshot_id = anvil.snapshot()
    try:
        yield anvil
    finally:
        # Mining mode and the mempool are not part of a snapshot: restore them before reverting.
        anvil.set_automine(True)
        anvil.drop_pending()
        if not anvil.revert(snapshot_id):
            raise RuntimeError(f"evm_revert({snapshot_id}) failed: later tests would see this test's state")


@pytest.fixture(scope="session")
def anvil_factory() -> Iterator[Callable[..., Anvil]]:
    require_anvil()
    started: list[Anvil] = []

    def start(**options: Any) -> Anvil:
        node = Anvil(**options).start()
        started.append(node)
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()


@pytest.fixture(scope="session")
def evm_chain(anvil: Anvil) -> EvmChain:
    return EvmChain(ANVIL.replace(rpc_url=anvil.url), rpc=anvil.rpc)
