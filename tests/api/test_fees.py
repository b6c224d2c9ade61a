"""The fee schedule: flat, percentage with a cap, network cost, free threshold, per category and network."""

from __future__ import annotations

import pytest

from recovery.cases.fees import fee_quote
from recovery.models import AssetPrice, FeeRule
from tests.factories import make_network

pytestmark = pytest.mark.django_db
TOKEN = "0x3333333333333333333333333333333333333333"


@pytest.fixture
def priced(db):
    network = make_network("feenet", options={"return_cost_usd_cents": 250})
    # $1 a token at 6 decimals.
    AssetPrice.objects.create(
        network=network, contract=TOKEN, symbol="T", decimals=6, usd_micros_per_unit=1_000_000
    )
    return network


def quote(network, amount_tokens: int, category: str = "unsupported_token"):
    return fee_quote(category=category, network=network, contract=TOKEN, amount=amount_tokens * 10**6)


def test_flat_plus_percentage_plus_network_cost(priced):
    FeeRule.objects.create(category="unsupported_token", flat_usd_cents=1_000, percent_bps=200)
    q = quote(priced, 1_000)  # $1,000: $10 + 2% ($20) + $2.50 = $32.50
    assert q.details["fee_usd_cents"] == 3_250
    assert q.fee_amount == 32_500_000  # 32.5 tokens
    assert q.net_amount == 967_500_000


def test_the_cap_limits_the_fee(priced):
    FeeRule.objects.create(category="unsupported_token", percent_bps=500, cap_usd_cents=4_000)
    q = quote(priced, 10_000)  # 5% of $10,000 = $500, capped at $40
    assert q.details["fee_usd_cents"] == 4_000
    assert q.fee_amount == 40 * 10**6


def test_no_fee_below_the_free_threshold(priced):
    FeeRule.objects.create(category="unsupported_token", flat_usd_cents=8_000, free_below_usd_cents=10_000)
    assert quote(priced, 99).fee_amount == 0
    assert quote(priced, 100).fee_amount == 82_500_000  # $80 + $2.50 network cost


def test_the_fee_never_exceeds_what_is_recovered(priced):
    FeeRule.objects.create(category="unsupported_token", flat_usd_cents=20_000, include_network_cost=False)
    q = quote(priced, 50)
    assert q.fee_amount == 50 * 10**6 and q.details["fee_takes_everything"] is True


def test_a_network_rule_beats_the_any_network_rule(priced):
    FeeRule.objects.create(category="unsupported_token", flat_usd_cents=9_000, include_network_cost=False)
    FeeRule.objects.create(
        category="unsupported_token", network=priced, flat_usd_cents=100, include_network_cost=False
    )
    assert quote(priced, 1_000).fee_amount == 1 * 10**6


def test_rules_are_per_category(priced):
    FeeRule.objects.create(category="missing_memo", flat_usd_cents=4_000, include_network_cost=False)
    assert quote(priced, 1_000, "missing_memo").fee_amount == 40 * 10**6
    assert quote(priced, 1_000, "unsupported_token").fee_amount == 0


def test_an_unpriced_asset_pays_the_percentage_in_kind(priced):
    FeeRule.objects.create(category="unsupported_token", flat_usd_cents=1_000, percent_bps=250)
    q = fee_quote(category="unsupported_token", network=priced, contract="0x" + "9" * 40, amount=1_000)
    assert (q.fee_amount, q.details["priced"], q.details["fee_usd_cents"]) == (25, False, None)


def test_every_quote_says_it_is_charged_only_on_an_executed_refund(priced):
    assert "only when it is executed" in quote(priced, 10).details["charging"]
