"""Approved means executed: the refund of an approved on-chain return is queued, at the deposit's depth."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_propose
from recovery.models import DepositStatus, RecoveryCase, Refund, Resolution, State
from recovery.payouts.execution import ORPHANED, WAIT_DEPTH, approved_returns_due, case_execute
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db


def approved(network, users, status=DepositStatus.CONFIRMED):
    """A user's case, proposed by the agent and approved by an approver (the follow-up not yet run)."""
    deposit = make_deposit(network, status=status)
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=deposit)
    agent = Actor.staff(users.agent, Role.AGENT)
    case_propose(
        case_id=case.pk, actor=agent, resolution=Resolution.ONCHAIN_RETURN, refund_amount=deposit.amount
    )
    return case_approve(case_id=case.pk, actor=Actor.staff(users.approver1, Role.APPROVER))


def test_an_approved_return_of_a_confirmed_deposit_is_queued_once(network, users):
    case = approved(network, users)

    assert case_execute(case_id=case.pk) is None
    assert case_execute(case_id=case.pk) is None  # a redelivered message finds it queued

    case.refresh_from_db()
    assert case.state == State.REFUND_QUEUED
    refund = Refund.objects.get(case=case)
    assert (refund.destination, refund.amount) == (case.refund_destination, case.refund_amount)


def test_a_deposit_still_confirming_makes_the_execution_wait(network, users):
    case = approved(network, users, status=DepositStatus.PENDING)

    assert case_execute(case_id=case.pk) == WAIT_DEPTH

    case.refresh_from_db()
    assert case.state == State.APPROVED and not Refund.objects.filter(case=case).exists()


def test_an_orphaned_deposit_sends_the_case_back_to_staff_and_pays_nothing(network, users):
    case = approved(network, users, status=DepositStatus.ORPHANED)

    assert case_execute(case_id=case.pk) is None

    case.refresh_from_db()
    assert case.state == State.AWAITING_REVIEW and not Refund.objects.filter(case=case).exists()
    assert case.events.order_by("-seq").first().reason == ORPHANED[:200]


def test_cases_not_approved_for_an_onchain_return_are_left_alone(network, users):
    credit = approved(network, users)
    RecoveryCase.objects.filter(pk=credit.pk).update(resolution=Resolution.ACCOUNT_CREDIT)
    review = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=make_deposit(network))
    for case in (credit, review):
        assert case_execute(case_id=case.pk) is None
        assert not Refund.objects.filter(case=case).exists()


def test_the_sweeper_finds_approved_returns_whose_message_was_lost(network, users):
    lost = approved(network, users)
    fresh = approved(network, users)
    RecoveryCase.objects.filter(pk=lost.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

    assert approved_returns_due(older_than=timedelta(minutes=2)) == [lost.pk]
    assert fresh.pk not in approved_returns_due(older_than=timedelta(minutes=2))
