"""The Bitcoin networks the system knows: address prefixes and bech32 human-readable parts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BitcoinNetwork:
    name: str  # "bitcoin" | "bitcoin-testnet" | "bitcoin-signet" | "bitcoin-regtest"
    hrp: str  # bech32 human-readable part
    p2pkh_version: int
    p2sh_version: int


NETWORKS: dict[str, BitcoinNetwork] = {
    n.name: n
    for n in (
        BitcoinNetwork("bitcoin", "bc", 0x00, 0x05),
        BitcoinNetwork("bitcoin-testnet", "tb", 0x6F, 0xC4),
        BitcoinNetwork("bitcoin-signet", "tb", 0x6F, 0xC4),
        BitcoinNetwork("bitcoin-regtest", "bcrt", 0x6F, 0xC4),
    )
}


def network_by_name(name: str) -> BitcoinNetwork:
    """The network called `name`; raises KeyError naming the known ones."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise KeyError(f"unknown Bitcoin network {name!r}; known: {', '.join(NETWORKS)}") from None
