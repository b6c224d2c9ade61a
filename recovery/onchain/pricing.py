"""The pricing source: USD value of base units. A static table by default, pluggable by setting."""

from __future__ import annotations

from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from recovery.models import AssetPrice, Network


def usd(cents: int | None) -> str:
    """USD cents as people read them: "$1,234.05" ("" when the value is unknown)."""
    return "" if cents is None else f"${cents // 100:,}.{cents % 100:02d}"


class PriceSource(Protocol):
    def usd_cents(self, network: Network, contract: str, amount: int) -> int | None:
        """Value of `amount` base units of the asset (contract '' = native coin), or None if unpriced."""
        ...


class StaticPriceTable:
    """Prices from the AssetPrice table (editable in the admin). Integer arithmetic, rounded down."""

    def usd_cents(self, network: Network, contract: str, amount: int) -> int | None:
        price = AssetPrice.objects.filter(network=network, contract__iexact=contract or "").first()
        if price is None:
            return None
        # amount / 10**decimals units * micros per unit / 10**4 micros per cent
        return amount * price.usd_micros_per_unit // (10**price.decimals * 10**4)


# The largest USD value anything holds: $10 trillion, far above any deposit and well inside a bigint.
# A token amount up to 2**256-1 at any price is worth at most this: spam or a bug, never money to act on.
MAX_USD_CENTS = 10**15


class CappedPrices:
    """The configured price source, its values capped at MAX_USD_CENTS so no column can overflow."""

    def __init__(self, source: PriceSource) -> None:
        self.source = source

    def usd_cents(self, network: Network, contract: str, amount: int) -> int | None:
        value = self.source.usd_cents(network, contract, amount)
        return None if value is None else min(value, MAX_USD_CENTS)


@cache
def price_source() -> PriceSource:
    return CappedPrices(import_string(settings.PRICE_SOURCE)())
