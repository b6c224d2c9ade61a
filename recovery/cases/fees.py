"""The binding fee quote: computed from the fee schedule before the user submits, stored with the case.

The fee is only ever deducted from an executed refund (refund amount = deposit amount - fee_amount), so a
case that is rejected, cancelled or cannot be processed is never charged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from recovery.models import FeeRule, Network
from recovery.onchain.pricing import price_source, usd

CHARGING_RULE = "Deducted from the refund only when it is executed; nothing is charged otherwise."


@dataclass(frozen=True)
class FeeQuote:
    fee_amount: int  # base units of the refunded asset
    value_usd_cents: int
    details: dict[str, Any]

    @property
    def net_amount(self) -> int:
        return int(self.details["amount"]) - self.fee_amount


def _fee_rule_for(category: str, network: Network) -> FeeRule | None:
    """The network's own active rule for the category, else the any-network one."""
    rules = FeeRule.objects.filter(
        Q(network=network) | Q(network__isnull=True), category=category, active=True
    )
    return min(rules, key=lambda rule: rule.network_id is None, default=None)


def _network_cost_usd_cents(network: Network) -> int:
    """Estimated on-chain cost of one return on the network (Network.options, else the family default)."""
    options = network.options or {}
    if "return_cost_usd_cents" in options:
        return int(options["return_cost_usd_cents"])
    return int(settings.RETURN_COST_USD_CENTS.get(network.family, 0))


def fee_quote(*, category: str, network: Network, contract: str, amount: int) -> FeeQuote:
    """Quote the fee of recovering `amount` base units of an asset; integer arithmetic throughout."""
    value = price_source().usd_cents(network, contract, amount)
    rule = _fee_rule_for(category, network)
    details: dict[str, Any] = {
        "category": category,
        "network": network.slug,
        "contract": contract,
        "amount": str(amount),
        "priced": value is not None,
        "value_usd_cents": value,
        "rule_id": rule.pk if rule else None,
        "charging": CHARGING_RULE,
        "quoted_at": timezone.now().isoformat(),
    }
    if rule is None:
        details.update(fee_usd_cents=0, fee_amount="0", computation="no fee rule for this case: free")
        return FeeQuote(0, value or 0, details)
    details.update(
        flat_usd_cents=rule.flat_usd_cents,
        percent_bps=rule.percent_bps,
        cap_usd_cents=rule.cap_usd_cents,
        free_below_usd_cents=rule.free_below_usd_cents,
    )
    fee_amount = _priced_fee(rule, network, amount, value, details) if value is not None else 0
    if value is None:
        # No USD price: flat fees, caps and network costs cannot be converted, so only the percentage applies.
        fee_amount = amount * rule.percent_bps // 10_000
        details.update(
            fee_usd_cents=None, computation=f"unpriced asset: {rule.percent_bps} bps of the amount"
        )
    details["fee_amount"] = str(fee_amount)
    details["fee_takes_everything"] = fee_amount >= amount
    return FeeQuote(fee_amount, value or 0, details)


def _priced_fee(rule: FeeRule, network: Network, amount: int, value: int, details: dict[str, Any]) -> int:
    if value < rule.free_below_usd_cents:
        details.update(fee_usd_cents=0, computation="value below the free threshold: no fee")
        return 0
    percent = value * rule.percent_bps // 10_000
    cost = _network_cost_usd_cents(network) if rule.include_network_cost else 0
    fee_usd = rule.flat_usd_cents + percent + cost
    steps = f"{usd(rule.flat_usd_cents)} flat + {rule.percent_bps / 100:.2f}% ({usd(percent)})"
    steps += f" + network cost {usd(cost)}"
    if rule.cap_usd_cents is not None and fee_usd > rule.cap_usd_cents:
        fee_usd = rule.cap_usd_cents
        steps += f", capped at {usd(rule.cap_usd_cents)}"
    fee_usd = min(fee_usd, value)  # never more than what is recovered
    details.update(percent_usd_cents=percent, _network_cost_usd_cents=cost, fee_usd_cents=fee_usd)
    details["computation"] = f"{steps} = {usd(fee_usd)}."
    # Converted at the quoted price, rounded down in the user's favour.
    return fee_usd * amount // value if value > 0 else 0
