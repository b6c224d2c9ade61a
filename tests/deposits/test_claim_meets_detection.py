"""A user's claim and the scanner's detection of the same deposit meet in one case, in either order."""

from __future__ import annotations

import pytest

from recovery.deposits import triage
from recovery.deposits.triage import deposit_triage, deposits_triage
from recovery.models import Deposit, DepositStatus, Disposition, RecoveryCase, State
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

    left = Deposit.objects.filter(disposition="").values_list("pk", flat=True)
    assert list(left) == [poisoned]  # undecided, so the sweeper tries it again
    assert triage.deposits_awaiting_triage() == [poisoned]
