"""Four-eyes approval: value tiers, the proposer never approves, changed terms void approvals."""

from __future__ import annotations

import pytest
from django.utils import timezone

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_change_destination, case_propose, case_reject
from recovery.cases.workflow import (
    FourEyesViolation,
    NotPermitted,
    ReasonRequired,
    StaleCase,
    approvals_complete,
    case_edit,
    transition,
)
from recovery.models import Approval, CaseEvent, Resolution, State
from tests.factories import make_case, make_deposit, make_user

pytestmark = pytest.mark.django_db


def proposed_case(network, users, *, value_usd_cents: int, settings):
    settings.TWO_APPROVER_THRESHOLD_USD_CENTS = 100_000
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        value_usd_cents=value_usd_cents,
        deposit=make_deposit(network),
    )
    return case_propose(
        case_id=case.pk,
        actor=Actor.staff(users.approver1, Role.APPROVER),
        resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=5 * 10**17,
    )


def approve(user, case_id, **kwargs):
    return case_approve(case_id=case_id, actor=Actor.staff(user, Role.APPROVER), **kwargs)


def test_one_approval_suffices_below_the_threshold(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=50_000, settings=settings)
    assert approve(users.approver2, case.pk).state == State.APPROVED


def test_above_the_threshold_two_distinct_approvers_are_needed(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=500_000, settings=settings)
    approver3 = make_user("approver3", group="approver")

    assert approve(users.approver2, case.pk).state == State.AWAITING_APPROVAL
    assert approve(approver3, case.pk).state == State.APPROVED


def test_the_proposer_can_never_approve_and_the_attempt_is_audited(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=50_000, settings=settings)
    events_before = CaseEvent.objects.filter(case=case).count()

    with pytest.raises(FourEyesViolation):
        approve(users.approver1, case.pk)

    case.refresh_from_db()
    assert case.state == State.AWAITING_APPROVAL
    assert not Approval.objects.filter(case=case).exists()
    refused = CaseEvent.objects.filter(case=case).order_by("seq").last()
    assert CaseEvent.objects.filter(case=case).count() == events_before + 1
    assert (refused.kind, refused.reason, refused.actor_id) == ("refused", "four_eyes", users.approver1.pk)


def test_the_same_approver_twice_is_refused(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=500_000, settings=settings)
    approve(users.approver2, case.pk)

    with pytest.raises(FourEyesViolation):
        approve(users.approver2, case.pk)

    assert Approval.objects.filter(case=case).count() == 1
    case.refresh_from_db()
    assert case.state == State.AWAITING_APPROVAL


def test_an_agent_without_the_approver_permission_cannot_approve(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=50_000, settings=settings)
    with pytest.raises(NotPermitted):
        case_approve(case_id=case.pk, actor=Actor.staff(users.agent, Role.APPROVER))
    assert not Approval.objects.filter(case=case).exists()


def test_approving_a_case_that_changed_since_it_was_viewed_is_refused(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=50_000, settings=settings)
    with pytest.raises(StaleCase):
        approve(users.approver2, case.pk, expected_version=case.version - 1)
    assert not Approval.objects.filter(case=case).exists()


def test_a_changed_destination_voids_the_approvals_and_sends_the_case_back(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=500_000, settings=settings)
    approve(users.approver2, case.pk)

    case = case_change_destination(
        case_id=case.pk,
        actor=Actor.case_owner(users.alice),
        destination="0x5555555555555555555555555555555555555555",
    )

    assert case.state == State.AWAITING_REVIEW
    assert not approvals_complete(case)
    assert Approval.objects.filter(case=case).count() == 1  # kept for the record, but for other terms


def test_terms_that_change_and_change_back_never_revive_the_old_approvals(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=500_000, settings=settings)
    first = case.refund_destination
    approve(users.approver2, case.pk)  # one of two, for destination A
    alice = Actor.case_owner(users.alice)
    case_change_destination(case_id=case.pk, actor=alice, destination="0x" + "5" * 40)  # B
    case_change_destination(case_id=case.pk, actor=alice, destination=first)  # A again
    case = case_edit(
        case.pk,
        actor=alice,
        kind="destination_confirmed",
        changes={"destination_confirmed_at": timezone.now()},
    )  # as her second factor does
    case = case_propose(
        case_id=case.pk,
        actor=Actor.staff(users.agent, Role.AGENT),
        resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=5 * 10**17,
    )  # the same terms as the first proposal, in every field but their version

    approve(users.approver1, case.pk)  # one new approval: with A's old one it would make two

    case.refresh_from_db()
    assert not approvals_complete(case) and case.state == State.AWAITING_APPROVAL


def test_a_refund_cannot_be_queued_without_complete_approvals(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=500_000, settings=settings)
    approve(users.approver2, case.pk)
    case.refresh_from_db()
    case.state = State.APPROVED  # as if an approval had been forged around the service
    case.save()

    with pytest.raises(Exception, match="distinct approvals"):
        transition(case.pk, State.REFUND_QUEUED, actor=Actor.system())


def test_a_rejection_needs_a_standard_reason_code(network, users, settings):
    case = proposed_case(network, users, value_usd_cents=50_000, settings=settings)
    with pytest.raises(ReasonRequired):
        case_reject(case_id=case.pk, actor=Actor.staff(users.approver2, Role.APPROVER), reason_code="because")
    rejected = case_reject(
        case_id=case.pk, actor=Actor.staff(users.approver2, Role.APPROVER), reason_code="value_below_cost"
    )
    assert (rejected.state, rejected.rejection_reason) == (State.REJECTED, "value_below_cost")


def test_a_user_cannot_act_on_another_users_case(network, users):
    case = make_case(network, users.alice)
    with pytest.raises(NotPermitted):
        transition(case.pk, State.CANCELLED, actor=Actor.case_owner(users.bob))
    case.refresh_from_db()
    assert case.state == State.SUBMITTED
