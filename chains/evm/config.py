"""EVM networks as data: one frozen EvmNetworkConfig per network.

The networks themselves are configured in one place, the Network rows (recovery/fixtures/networks.json);
chains/evm/devnet.py holds the local anvil's, for tests and benchmarks.
"""

from __future__ import annotations

import dataclasses
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
    # Contracts known to emit the pre-standard Transfer with nothing indexed (the token rules say which).
    unindexed_transfer_tokens: frozenset[str] = field(default_factory=frozenset)
    traces: bool = False  # does the node serve trace_block / debug_traceBlockByNumber for internal transfers
    max_batch_blocks: int = 500  # the most blocks one eth_getLogs may ask for (providers cap this)
    rpc_url: str = ""

    def __post_init__(self) -> None:
        if self.chain_id <= 0 or self.confirmations < 0 or self.max_batch_blocks < 1:
            raise ValueError(f"invalid EVM network config for {self.name}")
        object.__setattr__(self, "listed_tokens", frozenset(normalize_address(a) for a in self.listed_tokens))
        unindexed = frozenset(a.lower() for a in self.unindexed_transfer_tokens)
        object.__setattr__(self, "unindexed_transfer_tokens", unindexed)

    def replace(self, **changes: object) -> EvmNetworkConfig:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def is_listed(self, contract: str) -> bool:
        return normalize_address(contract) in self.listed_tokens
