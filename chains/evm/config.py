"""EVM networks as data: one frozen EvmNetworkConfig per network, and presets for the common ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

from chains.evm.abi import normalize_address


@dataclass(frozen=True, slots=True)
class EvmNetworkConfig:
    """What the adapter needs to know about an EVM network. Deployment settings override via `replace`."""

    name: str
    chain_id: int
    confirmations: int  # blocks on top of a deposit's block before it is acted on
    eip1559: bool  # type-2 transactions (base fee + tip) rather than legacy gas price
    poa: bool  # proof-of-authority extraData (BSC, Polygon): clients must not validate it as PoW
    native_symbol: str
    native_decimals: int = 18
    listed_tokens: frozenset[str] = field(default_factory=frozenset)  # EIP-55 contracts the exchange credits
    traces: bool = False  # does the node serve trace_block / debug_traceBlockByNumber for internal transfers
    max_batch_blocks: int = 500  # the most blocks one eth_getLogs may ask for (providers cap this)
    rpc_url: str = ""

    def __post_init__(self) -> None:
        if self.chain_id <= 0 or self.confirmations < 0 or self.max_batch_blocks < 1:
            raise ValueError(f"invalid EVM network config for {self.name}")
        object.__setattr__(self, "listed_tokens", frozenset(normalize_address(a) for a in self.listed_tokens))

    def replace(self, **changes: object) -> EvmNetworkConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def is_listed(self, contract: str) -> bool:
        return normalize_address(contract) in self.listed_tokens


def _tokens(addresses: Iterable[str]) -> frozenset[str]:
    return frozenset(addresses)


# Confirmation depths are typical exchange settings, not protocol constants: deployments override them.
# Listed tokens are examples (USDT / USDC) so the presets exercise the listed/unlisted split.
ETHEREUM = EvmNetworkConfig(
    name="ethereum",
    chain_id=1,
    confirmations=12,
    eip1559=True,
    poa=False,
    native_symbol="ETH",
    listed_tokens=_tokens(
        ["0xdAC17F958D2ee523a2206206994597C13D831ec7", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"]
    ),
    max_batch_blocks=500,
)
BSC = EvmNetworkConfig(
    name="bsc",
    chain_id=56,
    confirmations=15,
    eip1559=False,
    poa=True,
    native_symbol="BNB",
    listed_tokens=_tokens(
        ["0x55d398326f99059fF775485246999027B3197955", "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"]
    ),
    max_batch_blocks=200,
)
POLYGON = EvmNetworkConfig(
    name="polygon",
    chain_id=137,
    confirmations=128,  # Polygon PoS has had deep reorgs
    eip1559=True,
    poa=True,
    native_symbol="POL",
    listed_tokens=_tokens(
        ["0xc2132D05D31c914a87C6611C10748AEb04B58e8F", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"]
    ),
    max_batch_blocks=200,
)
ARBITRUM = EvmNetworkConfig(
    name="arbitrum",
    chain_id=42161,
    confirmations=20,
    eip1559=True,
    poa=False,
    native_symbol="ETH",
    listed_tokens=_tokens(
        ["0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9", "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"]
    ),
    max_batch_blocks=2000,  # ~4 blocks a second
)
BASE = EvmNetworkConfig(
    name="base",
    chain_id=8453,
    confirmations=20,
    eip1559=True,
    poa=False,
    native_symbol="ETH",
    listed_tokens=_tokens(["0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"]),
    max_batch_blocks=1000,
)
ANVIL = EvmNetworkConfig(
    name="anvil",
    chain_id=31337,
    confirmations=2,
    eip1559=True,
    poa=False,
    native_symbol="ETH",
    traces=True,
    max_batch_blocks=1000,
    rpc_url="http://127.0.0.1:8545",
)

PRESETS: dict[str, EvmNetworkConfig] = {c.name: c for c in (ETHEREUM, BSC, POLYGON, ARBITRUM, BASE, ANVIL)}


def preset(name: str) -> EvmNetworkConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise KeyError(f"no EVM preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
