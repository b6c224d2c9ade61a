"""Staff decisions through the pages: each goes through an audited service; refusals are shown and logged."""

from __future__ import annotations

import pytest

from recovery.models import Approval, RecoveryCase, Resolution, State
from tests.factories import make_case, make_deposit
from tests.staff.conftest import events_of

pytestmark = pytest.mark.django_db

THRESHOLD = 100_000  # $1,000


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.TWO_APPROVER_THRESHOLD_USD_CENTS = THRESHOLD


def post(client, case: RecoveryCase, action: str, **data):
    case.refresh_from_db()
    data.setdefault("version", case.version)
    response = client.post(f"/staff/cases/{case.pk}/{action}/", data, follow=True)
    assert response.status_code == 200
    return " | ".join(str(m) for m in response.context["messages"])


def reviewable_case(network, users, *, value_usd_cents: int, fee: int = 10**16) -> RecoveryCase:
    deposit = make_deposit(network, amount=10**18)
    return make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        deposit=deposit,
        txid=deposit.txid,
        fee_amount=fee,
        value_usd_cents=value_usd_cents,
    )


def test_an_agent_triages_then_asks_the_user_and_the_sla_clock_pauses(network, users, staff_client):
    case = make_case(network, users.alice, state=State.SUBMITTED)
    agent = staff_client(users.agent)

    assert "awaiting review" in post(agent, case, "triage")
    text = post(agent, case, "request_info", question="Which wallet sent it?")

    case.refresh_from_db()
    assert "waiting for your information" in text
    assert case.state == State.NEEDS_INFO and case.sla_paused_at is not None
    kinds = [e.kind for e in events_of(case)]
    assert kinds == ["start_verification", "verified", "request_info"]
    assert events_of(case)[-1].data["question"] == "Which wallet sent it?"


def test_the_proposal_is_the_deposit_net_of_the_quoted_fee_and_more_is_refused(network, users, staff_client):
    case = reviewable_case(network, users, value_usd_cents=50_000)
    agent = staff_client(users.agent)
    net = 10**18 - 10**16

    page = agent.get(f"/staff/cases/{case.pk}/")
    assert page.context["propose_form"].initial["refund_amount"] == net

    text = post(agent, case, "propose", resolution="onchain_return", refund_amount=net + 1)
    case.refresh_from_db()
    assert "Refused" in text and str(net) in text
    assert case.state == State.AWAITING_REVIEW and case.refund_amount is None
    assert events_of(case)[-1].kind == "refused"

    post(agent, case, "propose", resolution="onchain_return", refund_amount=net)
    case.refresh_from_db()
    assert (case.state, case.refund_amount, case.proposed_by) == (State.AWAITING_APPROVAL, net, users.agent)


def test_above_the_threshold_two_distinct_approvers_approve_and_a_repeat_is_refused(
    network, users, staff_client
):
    case = reviewable_case(network, users, value_usd_cents=THRESHOLD + 1)
    post(staff_client(users.agent), case, "propose", resolution="onchain_return", refund_amount=10**17)
    first, second = staff_client(users.approver1), staff_client(users.approver2)

    assert "another, distinct approver" in post(first, case, "approve")
    repeat = post(first, case, "approve")
    case.refresh_from_db()
    assert "Refused" in repeat and "already approved" in repeat
    assert case.state == State.AWAITING_APPROVAL

    post(second, case, "approve")
    case.refresh_from_db()
    assert case.state == State.APPROVED
    assert set(Approval.objects.filter(case=case).values_list("approver__username", flat=True)) == {
        "approver1",
        "approver2",
    }
    refused = [e for e in events_of(case) if e.kind == "refused"]
    assert [(e.actor_id, e.reason) for e in refused] == [(users.approver1.pk, "four_eyes")]


def test_the_proposers_approval_is_refused_with_a_message_and_audited(network, users, staff_client):
    case = reviewable_case(network, users, value_usd_cents=500)
    proposer = staff_client(users.approver1)
    post(proposer, case, "propose", resolution=Resolution.ACCOUNT_CREDIT, refund_amount=10**17)

    text = post(proposer, case, "approve")

    case.refresh_from_db()
    assert "Four-eyes" in text and "proposer" in text
    assert case.state == State.AWAITING_APPROVAL and not Approval.objects.filter(case=case).exists()
    last = events_of(case)[-1]
    assert (last.kind, last.reason, last.actor_id) == ("refused", "four_eyes", users.approver1.pk)


def test_approving_a_case_that_changed_since_it_was_viewed_is_refused(network, users, staff_client):
    case = reviewable_case(network, users, value_usd_cents=500)
    post(staff_client(users.agent), case, "propose", resolution="onchain_return", refund_amount=10**17)
    case.refresh_from_db()
    seen = case.version - 1  # the approver's page showed the case before the proposal

    text = post(staff_client(users.approver1), case, "approve", version=seen)

    case.refresh_from_db()
    assert "changed" in text and case.state == State.AWAITING_APPROVAL
    assert not Approval.objects.filter(case=case).exists()
    assert events_of(case)[-1].reason == "stale_case"


def test_a_rejection_without_a_reason_code_is_refused_and_with_one_it_closes_the_case(
    network, users, staff_client
):
    case = reviewable_case(network, users, value_usd_cents=500)
    approver = staff_client(users.approver1)

    text = post(approver, case, "reject", reason_code="")
    case.refresh_from_db()
    assert "reason code" in text and case.state == State.AWAITING_REVIEW
    assert events_of(case)[-1].reason == "reason_required"

    post(approver, case, "reject", reason_code="sent_to_contract")
    case.refresh_from_db()
    assert (case.state, case.rejection_reason) == (State.REJECTED, "sent_to_contract")


def test_acting_without_the_permission_is_refused_and_the_attempt_is_audited(network, users, staff_client):
    case = make_case(network, users.alice, state=State.SUBMITTED)
    auditor = staff_client(users.auditor)

    text = post(auditor, case, "triage")
    agent_text = post(staff_client(users.agent), case, "reject", reason_code="tx_failed")

    case.refresh_from_db()
    assert "permission" in text and "permission" in agent_text
    assert case.state == State.SUBMITTED
    refused = [(e.actor_id, e.reason, e.data["action"]) for e in events_of(case)]
    assert refused == [
        (users.auditor.pk, "not_permitted", "triage"),
        (users.agent.pk, "not_permitted", "reject"),
    ]


def test_a_case_is_assigned_to_an_agent_but_never_to_an_auditor(network, users, staff_client):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    approver = staff_client(users.approver1)

    post(approver, case, "assign", assignee=users.agent.pk)
    refused = post(approver, case, "assign", assignee=users.auditor.pk)

    case.refresh_from_db()
    assert case.assignee == users.agent and "Refused" in refused
    assigned = [e for e in events_of(case) if e.kind == "assigned"]
    assert [(e.data["from"], e.data["to"]) for e in assigned] == [("", "agent")]


def test_an_incomplete_form_writes_nothing(network, users, staff_client):
    case = make_case(network, users.alice, state=State.SUBMITTED)
    response = staff_client(users.agent).post(f"/staff/cases/{case.pk}/triage/", {}, follow=True)

    case.refresh_from_db()
    assert "Nothing was done" in " ".join(str(m) for m in response.context["messages"])
    assert case.state == State.SUBMITTED and events_of(case) == []
