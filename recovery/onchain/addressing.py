"""Address validation per network family, as this deployment configures the families."""

from __future__ import annotations

from django.conf import settings

from chains.base import InvalidAddress
from chains.bitcoin import address as bitcoin_address
from chains.bitcoin.network import network_by_name
from chains.evm import abi as evm_abi


def normalize_address(family: str, address: str) -> str:
    """The canonical form of an address of a family; raises InvalidAddress with the reason."""
    text = address.strip()
    if family == "evm":
        return evm_abi.normalize_address(text)
    if family == "bitcoin":
        return bitcoin_address.normalize_address(text, network_by_name(settings.BITCOIN_NETWORK))
    raise InvalidAddress(f"unknown network family {family!r}")


def normalize_for_network(network_slug: str, family: str, address: str) -> str:
    """Like normalize_address, but Bitcoin addresses are checked against that very network's prefix."""
    if family == "bitcoin":
        return bitcoin_address.normalize_address(address.strip(), network_by_name(network_slug))
    return normalize_address(family, address)
