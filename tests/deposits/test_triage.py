"""The return policy on a real node: what is returned automatically, what waits for staff, what is ignored."""

from __future__ import annotations

import pytest

from recovery.cases.actions import REFUND_ADDRESS_REQUEST, open_request
from recovery.models import (
    AssetPrice,
    CaseEvent,
    Deposit,
    Disposition,
    Origin,
    RecoveryCase,
    Refund,
    RefundState,
    ScreenedAddress,
    State,
    TokenRule,
    UserProfile,
)
from tests.payout_env import deposit_of, run_to_end, triaged

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]
USD = 1_000_000  # micro-dollars


@pytest.fixture
def priced(payout):
    """ETH at $3,000 and the test tokens at $1 (the NFT at $50); the deposit address belongs to alice."""
    network, c = payout.network, payout.contracts
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3000 * USD
    )
    for name in ("NoReturnToken", "TestToken", "FeeToken"):
        AssetPrice.objects.create(
            network=network, contract=c[name].address, symbol=name, decimals=18, usd_micros_per_unit=USD
        )
    AssetPrice.objects.create(
        network=network, contract=c["TestNFT"].address, symbol="NFT", decimals=0, usd_micros_per_unit=50 * USD
    )
    UserProfile.objects.filter(user=payout.users.alice).update(account_ref="ACC-alice")
    return payout


def test_an_unsupported_token_from_a_plain_account_is_returned_with_no_human_step(priced):
    deposit = deposit_of(priced, "NoReturnToken")  # 3 tokens = $3

    decision = triaged(deposit_id=deposit.pk)

    assert decision.disposition == Disposition.AUTO_RETURN
    case = RecoveryCase.objects.get(deposit=deposit)
    assert (case.origin, case.state, case.user) == (Origin.AUTO, State.REFUND_QUEUED, priced.users.alice)
    assert case.refund_destination == deposit.sender and case.refund_amount == deposit.amount
    refund = run_to_end(priced, Refund.objects.get(case=case))
    assert refund.state == RefundState.CONFIRMED and refund.amount_received == deposit.amount
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[:3] == ["filed", "start_verification", "auto_approve"]


def test_an_nft_with_a_floor_price_is_returned_too(priced):
    deposit = deposit_of(priced, "TestNFT")
    assert triaged(deposit_id=deposit.pk).disposition == Disposition.AUTO_RETURN
    refund = run_to_end(priced, Refund.objects.get(case__deposit=deposit))
    assert refund.state == RefundState.CONFIRMED
    assert priced.node.call(priced.contracts["TestNFT"], "ownerOf", 42).lower() == deposit.sender.lower()


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("spam", "spam token"),
        ("unpriced", "no price"),
        ("dust", "dust"),
    ],
)
def test_spam_unpriced_and_dust_deposits_are_recorded_and_ignored(priced, setup, reason):
    token = priced.contracts["NoReturnToken"].address
    if setup == "spam":
        TokenRule.objects.create(network=priced.network, contract=token, kind="spam", reason="fake USDT")
    elif setup == "unpriced":
        AssetPrice.objects.filter(contract=token).delete()
    else:
        AssetPrice.objects.filter(contract=token).update(usd_micros_per_unit=1)  # 3 tokens worth $0.000003
    deposit = deposit_of(priced, "NoReturnToken")

    decision = triaged(deposit_id=deposit.pk)

    assert decision.disposition == Disposition.IGNORED and reason in decision.reason
    assert not RecoveryCase.objects.filter(deposit=deposit).exists()
    assert Deposit.objects.get(pk=deposit.pk).disposition_reason == decision.reason


def test_an_airdrop_minted_to_our_address_is_ignored(priced):
    deposit = deposit_of(priced, "RevertingToken")  # minted straight to the deposit address
    AssetPrice.objects.create(
        network=priced.network,
        contract=deposit.contract,
        symbol="STUCK",
        decimals=18,
        usd_micros_per_unit=USD,
    )
    assert "airdrop" in triaged(deposit_id=deposit.pk).reason


@pytest.mark.parametrize("setup", ["hot_wallet", "sanctioned", "above_limit"])
def test_risky_senders_and_large_values_wait_for_staff(priced, setup, settings):
    deposit = deposit_of(priced, "NoReturnToken")
    if setup == "above_limit":
        settings.AUTO_RETURN_LIMIT_USD_CENTS = 100  # $1; the deposit is worth $3
    else:
        kind = "exchange_hot_wallet" if setup == "hot_wallet" else "sanctioned"
        ScreenedAddress.objects.create(family="evm", address=deposit.sender, kind=kind, label="test")

    decision = triaged(deposit_id=deposit.pk)

    assert decision.disposition == Disposition.MANUAL_REVIEW
    case = RecoveryCase.objects.get(deposit=deposit)
    # Staff decide; first the owner is asked where a return would go (the policy set no destination).
    assert (case.origin, case.state, case.refund_destination) == (Origin.AUTO, State.NEEDS_INFO, "")
    assert open_request(case) == REFUND_ADDRESS_REQUEST
    assert not Refund.objects.filter(case=case).exists()


def test_a_listed_deposit_is_left_to_the_deposit_system(priced):
    deposit = deposit_of(priced, "native")  # ETH is listed on the test network? Only if a ListedAsset says so
    from recovery.models import ListedAsset

    ListedAsset.objects.create(network=priced.network, symbol="ETH", contract="", decimals=18)
    Deposit.objects.filter(pk=deposit.pk).update(classification="listed")
    assert triaged(deposit_id=deposit.pk).disposition == Disposition.NORMAL_CREDIT
    assert not RecoveryCase.objects.exists()


def test_a_deposit_is_triaged_once(priced):
    deposit = deposit_of(priced, "NoReturnToken")
    assert triaged(deposit_id=deposit.pk) is not None
    assert triaged(deposit_id=deposit.pk) is None
    assert RecoveryCase.objects.filter(deposit=deposit).count() == 1
