"""A user's claim and the scanner's detection of the same deposit meet in one case, in either order."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from recovery.deposits import triage
from recovery.deposits.triage import deposit_triage, deposits_triage
from recovery.models import AssetPrice, Deposit, DepositStatus, Disposition, RecoveryCase, State, UserProfile
from recovery.onchain.pricing import MAX_USD_CENTS
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db


def test_a_deposit_the_user_filed_first_is_triaged_to_their_case_without_a_second(network, users):
    deposit = make_deposit(network, status=DepositStatus.CONFIRMED)
    filed = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=deposit)

    decision = deposit_triage(deposit_id=deposit.pk)

    assert decision.disposition == Disposition.USER_CASE
    assert list(RecoveryCase.objects.filter(deposit=deposit)) == [filed]
    deposit.refresh_from_db()
    assert deposit.disposition == Disposition.USER_CASE and filed.short_ref in deposit.disposition_reason
    assert deposit_triage(deposit_id=deposit.pk) is None  # decided once


def test_a_rejected_claim_does_not_keep_the_policy_from_deciding(network, users):
    deposit = make_deposit(network, status=DepositStatus.CONFIRMED)
    make_case(network, users.alice, state=State.REJECTED, deposit=deposit)

    decision = deposit_triage(deposit_id=deposit.pk)

    assert decision.disposition != Disposition.USER_CASE


def test_one_deposit_that_fails_triage_does_not_block_the_others(network, users, monkeypatch):
    deposits = [make_deposit(network, status=DepositStatus.CONFIRMED) for _ in range(3)]
    poisoned = deposits[1].pk
    decide = triage.policy_decide

    def policy(deposit: Deposit):
        if deposit.pk == poisoned:
            raise ValueError("a value no column can hold")
        return decide(deposit)

    monkeypatch.setattr(triage, "policy_decide", policy)

    assert deposits_triage(deposit_ids=[d.pk for d in deposits]) == 2

    left = Deposit.objects.get(disposition="")
    assert left.pk == poisoned  # undecided, parked with its error
    assert (left.triage_attempts, left.triage_error) == (1, "ValueError: a value no column can hold")
    assert left.triage_after > timezone.now()
    assert triage.deposits_awaiting_triage() == []  # not before its backoff is over
    Deposit.objects.filter(pk=poisoned).update(triage_after=timezone.now())
    assert triage.deposits_awaiting_triage() == [poisoned]
    deposits_triage(deposit_ids=[poisoned])
    left.refresh_from_db()
    assert left.triage_attempts == 2 and left.triage_after - timezone.now() > timedelta(minutes=1)


def test_staff_and_metrics_see_a_parked_deposit(network, users, client):
    deposit = make_deposit(network, status=DepositStatus.CONFIRMED)
    triage.deposit_triage_park(deposit_id=deposit.pk, error=ValueError("no price fits"))
    agent = Client()
    agent.force_login(users.agent)

    page = agent.get("/staff/dashboard/").content.decode()

    assert "Deposits whose triage failed" in page and "ValueError: no price fits" in page
    assert "recovery_deposits_triage_parked 1.0" in client.get("/metrics").content.decode()


def test_a_value_no_column_can_hold_is_capped_not_an_overflow(network, users):
    token = "0x3333333333333333333333333333333333333333"
    AssetPrice.objects.create(
        network=network, contract=token, symbol="BIG", decimals=0, usd_micros_per_unit=10**6
    )
    deposit = make_deposit(
        network,
        status=DepositStatus.CONFIRMED,
        contract=token,
        amount=2**256 - 1,
        classification="unsupported_token",
    )
    UserProfile.objects.filter(user=users.alice).update(account_ref="ACC-alice")

    decision = deposit_triage(deposit_id=deposit.pk)

    assert decision.value_usd_cents == MAX_USD_CENTS
    case = RecoveryCase.objects.get(deposit=deposit)  # staff decide on it; no DataError on the way
    assert case.value_usd_cents == MAX_USD_CENTS and decision.disposition == Disposition.MANUAL_REVIEW
