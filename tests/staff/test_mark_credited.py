"""Recording an account credit: the service, the staff page's form, and what the user then reads."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import LEDGER_REFERENCE_MAX_LENGTH, case_approve, case_mark_credited
from recovery.cases.queue import case_propose_resolution
from recovery.cases.workflow import WorkflowError
from recovery.models import Approval, CaseEvent, RecoveryCase, Resolution, State
from tests.factories import make_case, make_deposit
from tests.staff.conftest import events_of, page_messages

pytestmark = pytest.mark.django_db

THRESHOLD = 100_000  # $1,000
FORM_ID = 'id="form-mark_credited"'


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.TWO_APPROVER_THRESHOLD_USD_CENTS = THRESHOLD


def agent_of(user) -> Actor:
    return Actor.staff(user, Role.AGENT)


def approved_case(network, users, resolution: str = Resolution.ACCOUNT_CREDIT) -> RecoveryCase:
    """A case proposed by the agent and approved by approver1, through the services."""
    deposit = make_deposit(network, amount=10**18)
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        deposit=deposit,
        txid=deposit.txid,
        fee_amount=10**16,
        value_usd_cents=500,
    )
    case_propose_resolution(
        case_id=case.pk, actor=agent_of(users.agent), resolution=resolution, refund_amount=10**17
    )
    case_approve(case_id=case.pk, actor=Actor.staff(users.approver1, Role.APPROVER))
    case.refresh_from_db()
    assert (case.state, case.resolution) == (State.APPROVED, resolution)
    return case


def snapshot(case: RecoveryCase) -> tuple:
    case.refresh_from_db()
    return (case.state, case.version, case.closed_at, case.updated_at, CaseEvent.objects.count())


def assert_only_the_refusal_was_written(case: RecoveryCase, before: tuple, *, code: str, actor) -> None:
    state, version, closed_at, updated_at, event_count = before
    case.refresh_from_db()
    assert (case.state, case.version, case.closed_at, case.updated_at) == (
        state,
        version,
        closed_at,
        updated_at,
    )
    assert CaseEvent.objects.count() == event_count + 1
    last = events_of(case)[-1]
    assert (last.kind, last.reason, last.actor_id, last.data["action"]) == (
        "refused",
        code,
        actor.pk,
        "mark_credited",
    )
    assert "ledger_reference" not in last.data


# --- the service ----------------------------------------------------------------------------------


def test_an_approved_credit_is_marked_credited_with_the_trimmed_ledger_reference_in_its_event(network, users):
    case = approved_case(network, users)

    case_mark_credited(
        case_id=case.pk,
        actor=agent_of(users.agent),
        ledger_reference="  EXL-2025-000042  ",
        expected_version=case.version,
    )

    case.refresh_from_db()
    assert case.state == State.CREDITED and case.closed_at is not None
    last = events_of(case)[-1]
    assert (last.kind, last.from_state, last.to_state, last.actor_id) == (
        "credit",
        State.APPROVED,
        State.CREDITED,
        users.agent.pk,
    )
    assert last.data["ledger_reference"] == "EXL-2025-000042"


@pytest.mark.parametrize(
    "reference",
    ["", "   ", "x" * (LEDGER_REFERENCE_MAX_LENGTH + 1), "EXL-1\nEXL-2"],
    ids=["empty", "blank", "too-long", "two-lines"],
)
def test_a_missing_or_malformed_ledger_reference_is_refused(network, users, reference):
    case = approved_case(network, users)
    before = snapshot(case)

    with pytest.raises(WorkflowError, match="ledger") as refused:
        case_mark_credited(case_id=case.pk, actor=agent_of(users.agent), ledger_reference=reference)

    assert refused.value.code == "ledger_reference"
    assert_only_the_refusal_was_written(case, before, code="ledger_reference", actor=users.agent)


def test_an_approved_onchain_return_cannot_be_marked_credited(network, users):
    case = approved_case(network, users, resolution=Resolution.ONCHAIN_RETURN)
    before = snapshot(case)

    with pytest.raises(WorkflowError, match="account credit"):
        case_mark_credited(case_id=case.pk, actor=agent_of(users.agent), ledger_reference="EXL-1")

    assert_only_the_refusal_was_written(case, before, code="guard_failed", actor=users.agent)


def test_a_credit_that_is_not_approved_yet_cannot_be_marked_credited(network, users):
    deposit = make_deposit(network)
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_APPROVAL,
        deposit=deposit,
        resolution=Resolution.ACCOUNT_CREDIT,
        refund_amount=10**17,
        proposed_by=users.agent,
    )
    before = snapshot(case)

    with pytest.raises(WorkflowError):
        case_mark_credited(case_id=case.pk, actor=agent_of(users.approver1), ledger_reference="EXL-1")

    assert_only_the_refusal_was_written(case, before, code="illegal_transition", actor=users.approver1)


def test_an_approved_credit_whose_approvals_are_incomplete_is_refused(network, users):
    case = make_case(
        network,
        users.alice,
        state=State.APPROVED,
        deposit=make_deposit(network),
        resolution=Resolution.ACCOUNT_CREDIT,
        refund_amount=10**17,
        proposed_by=users.agent,
        value_usd_cents=THRESHOLD + 1,
    )
    Approval.objects.create(case=case, approver=users.approver1, terms_digest="other terms", case_version=1)
    before = snapshot(case)

    with pytest.raises(WorkflowError, match="approvals"):
        case_mark_credited(case_id=case.pk, actor=agent_of(users.agent), ledger_reference="EXL-1")

    assert_only_the_refusal_was_written(case, before, code="approvals_incomplete", actor=users.agent)


@pytest.mark.parametrize("who", ["alice", "auditor"])
def test_the_case_owner_and_an_auditor_may_not_mark_a_case_credited(network, users, who):
    case = approved_case(network, users)
    user = getattr(users, who)
    actor = Actor.case_owner(user) if who == "alice" else agent_of(user)
    before = snapshot(case)

    with pytest.raises(WorkflowError):
        case_mark_credited(case_id=case.pk, actor=actor, ledger_reference="EXL-1")

    assert_only_the_refusal_was_written(case, before, code="not_permitted", actor=user)


def test_marking_a_case_credited_on_a_version_that_changed_is_refused(network, users):
    case = approved_case(network, users)
    before = snapshot(case)

    with pytest.raises(WorkflowError, match="changed"):
        case_mark_credited(
            case_id=case.pk,
            actor=agent_of(users.agent),
            ledger_reference="EXL-1",
            expected_version=case.version - 1,
        )

    assert_only_the_refusal_was_written(case, before, code="stale_case", actor=users.agent)


# --- the staff page -------------------------------------------------------------------------------


def case_page(client: Client, case: RecoveryCase) -> str:
    response = client.get(f"/staff/cases/{case.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_form_is_offered_to_agents_and_approvers_on_an_approved_credit_only(network, users, staff_client):
    credit = approved_case(network, users)
    onchain = approved_case(network, users, resolution=Resolution.ONCHAIN_RETURN)
    unapproved = make_case(
        network, users.bob, state=State.AWAITING_APPROVAL, resolution=Resolution.ACCOUNT_CREDIT
    )
    agent, approver = staff_client(users.agent), staff_client(users.approver2)

    assert FORM_ID in case_page(agent, credit) and FORM_ID in case_page(approver, credit)
    assert FORM_ID not in case_page(staff_client(users.auditor), credit)
    assert FORM_ID not in case_page(agent, onchain)
    assert FORM_ID not in case_page(agent, unapproved)

    case_mark_credited(case_id=credit.pk, actor=agent_of(users.agent), ledger_reference="EXL-1")
    assert FORM_ID not in case_page(agent, credit)


def test_an_agent_marks_a_case_credited_through_the_page_with_csrf_and_version(network, users):
    case = approved_case(network, users)
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.agent)
    page = case_page(client, case)
    form = page[page.index(FORM_ID) : page.index("</form>", page.index(FORM_ID))]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    url = f"/staff/cases/{case.pk}/mark_credited/"

    assert client.post(url, {"version": version, "ledger_reference": "EXL-7"}).status_code == 403
    response = client.post(
        url, {"csrfmiddlewaretoken": token, "version": version, "ledger_reference": " EXL-7 "}, follow=True
    )

    case.refresh_from_db()
    assert "credit is recorded" in " ".join(page_messages(response))
    assert case.state == State.CREDITED
    assert events_of(case)[-1].data["ledger_reference"] == "EXL-7"
    assert "EXL-7" in response.content.decode()  # the staff timeline shows the reference


def test_refusals_through_the_page_are_shown_and_audited(network, users, staff_client):
    case = approved_case(network, users)
    approver, auditor = staff_client(users.approver2), staff_client(users.auditor)

    def post(client: Client, **data) -> str:
        case.refresh_from_db()
        data = {"version": case.version, "ledger_reference": "EXL-9", **data}
        response = client.post(f"/staff/cases/{case.pk}/mark_credited/", data, follow=True)
        assert response.status_code == 200
        return " | ".join(page_messages(response))

    missing = post(approver, ledger_reference="  ")
    stale = post(approver, version=case.version - 1)
    not_allowed = post(auditor)

    case.refresh_from_db()
    assert "Refused" in missing and "ledger" in missing
    assert "Refused" in stale and "changed" in stale
    assert "Refused" in not_allowed and "permission" in not_allowed
    assert case.state == State.APPROVED
    refused = [(e.actor_id, e.reason) for e in events_of(case) if e.kind == "refused"]
    assert refused == [
        (users.approver2.pk, "ledger_reference"),
        (users.approver2.pk, "stale_case"),
        (users.auditor.pk, "not_permitted"),
    ]


# --- what the user reads --------------------------------------------------------------------------


def test_the_users_case_page_says_in_plain_words_that_the_funds_were_credited(network, users, staff_client):
    case = approved_case(network, users)
    staff_client(users.agent).post(
        f"/staff/cases/{case.pk}/mark_credited/", {"version": case.version, "ledger_reference": "EXL-3"}
    )
    alice = Client()
    alice.force_login(users.alice)

    page = alice.get(f"/cases/{case.reference}/").content.decode()

    assert "Credited to your account" in page
    assert "The funds were credited to your exchange account." in page
    assert "Nothing: the funds were credited to your account." in page
