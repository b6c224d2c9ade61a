"""Builds the chain adapter of a configured Network (one per process and RPC endpoint)."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlparse, urlunparse

from chains.base import Chain, ChainError
from chains.bitcoin.chain import BitcoinChain
from chains.bitcoin.network import network_by_name
from chains.bitcoin.rpc import BitcoinRpc
from chains.evm.chain import EvmChain
from chains.evm.config import EvmNetworkConfig
from recovery.models import Family, ListedAsset, Network, TokenRule, TokenRuleKind

_chains: dict[tuple[str, str, frozenset[str]], Chain] = {}
_lock = threading.Lock()


class ChainNotConfigured(ChainError):
    """The network has no RPC endpoint in this deployment."""


def _rpc_url_for(network: Network) -> str:
    """`RPC_URL_<SLUG>` from the environment (secrets stay out of the database), else the stored URL."""
    variable = "RPC_URL_" + network.slug.upper().replace("-", "_")
    return os.environ.get(variable) or network.rpc_url


def chain_for(network: Network) -> Chain:
    url = _rpc_url_for(network)
    if not url:
        raise ChainNotConfigured(
            f"no RPC endpoint configured for {network.slug} (set RPC_URL_{network.slug.upper()})"
        )
    # The token rules that change how logs are read are part of the key: a new rule takes effect at once.
    unindexed = _unindexed_transfer_tokens(network)
    key = (network.slug, url, unindexed)
    with _lock:
        if key not in _chains:
            _chains[key] = _build_chain(network, url, unindexed)
        return _chains[key]


def _unindexed_transfer_tokens(network: Network) -> frozenset[str]:
    if network.family != Family.EVM:
        return frozenset()
    rules = TokenRule.objects.filter(network=network, kind=TokenRuleKind.LEGACY)
    return frozenset(contract.lower() for contract in rules.values_list("contract", flat=True))


def forget_chains() -> None:
    """Drop cached adapters (tests that restart nodes, settings changes)."""
    with _lock:
        _chains.clear()


def _build_chain(network: Network, url: str, unindexed: frozenset[str]) -> Chain:
    if network.family == Family.EVM:
        return EvmChain(_evm_config(network, url).replace(unindexed_transfer_tokens=unindexed))
    if network.family == Family.BITCOIN:
        parts = urlparse(url)
        bare = urlunparse(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))
        rpc = BitcoinRpc(bare, user=parts.username or "", password=parts.password or "")
        return BitcoinChain(network_by_name(network.slug), rpc, confirmations=network.confirmations)
    raise ChainNotConfigured(f"unknown family {network.family}")


def _evm_config(network: Network, url: str) -> EvmNetworkConfig:
    options = network.options or {}
    listed = ListedAsset.objects.filter(network=network, enabled=True).exclude(contract="")
    return EvmNetworkConfig(
        name=network.slug,
        chain_id=network.chain_id or 1,
        confirmations=network.confirmations,
        eip1559=bool(options.get("eip1559", True)),
        poa=bool(options.get("poa", False)),
        native_symbol=network.native_symbol,
        native_decimals=network.native_decimals,
        listed_tokens=frozenset(listed.values_list("contract", flat=True)),
        traces=bool(options.get("traces", False)),
        max_batch_blocks=int(options.get("scan_batch", 500)),
        rpc_url=url,
    )
