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


@cache
def price_source() -> PriceSource:
    return import_string(settings.PRICE_SOURCE)()
