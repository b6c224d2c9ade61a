"""Pytest fixtures for Bitcoin: mainnet fixture data and a local node speaking Bitcoin Core's JSON-RPC."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from chains.bitcoin.rpc import BitcoinRpc
from tests.chains.bitcoin.fake_node import FIXTURES_DIR, FakeBitcoinNode


@pytest.fixture
def bitcoin_node() -> Iterator[FakeBitcoinNode]:
    """A fresh fake bitcoind (one synthetic block at height 800,000) serving on 127.0.0.1:<free port>."""
    if not FIXTURES_DIR.is_dir():
        message = f"Bitcoin fixtures not found at {FIXTURES_DIR}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    node = FakeBitcoinNode().start()
    yield node
    node.stop()


@pytest.fixture
def bitcoin_rpc(bitcoin_node: FakeBitcoinNode) -> BitcoinRpc:
    return BitcoinRpc(bitcoin_node.url, user=bitcoin_node.user, password=bitcoin_node.password, timeout=30.0)
