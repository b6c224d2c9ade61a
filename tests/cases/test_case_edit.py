"""case_edit(): case fields other than the state change as the state does: lock, version, actor, event."""

from __future__ import annotations

import pytest

from recovery.audit.roles import Actor, Role
from recovery.cases.queue import case_assign
from recovery.cases.workflow import NotPermitted, StaleCase, case_edit
from recovery.models import CaseEvent, State
from tests.factories import make_case

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"


def test_an_edit_bumps_the_version_and_appends_one_event(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    before = CaseEvent.objects.filter(case=case).count()

    edited = case_edit(
        case.pk,
        actor=Actor.case_owner(users.alice),
        kind="destination_changed",
        changes={"refund_destination": DEST},
        expected_version=case.version,
        data={"to": DEST},
    )

    assert (edited.refund_destination, edited.version) == (DEST, case.version + 1)
    event = CaseEvent.objects.filter(case=case).order_by("-seq").first()
    assert CaseEvent.objects.filter(case=case).count() == before + 1
    assert (event.kind, event.data["version"], event.data["to"]) == (
        "destination_changed",
        edited.version,
        DEST,
    )


@pytest.mark.parametrize("field", ["state", "refund_amount", "resolution", "deposit_id", "value_usd_cents"])
def test_fields_the_workflow_owns_cannot_be_edited(network, users, field):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    with pytest.raises(NotPermitted, match="only through the workflow"):
        case_edit(case.pk, actor=Actor.staff(users.agent, Role.AGENT), kind="x", changes={field: 1})
    case.refresh_from_db()
    assert case.version == 1


def test_only_the_owner_changes_a_destination_and_only_staff_assign(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    with pytest.raises(NotPermitted):
        case_edit(case.pk, actor=Actor.case_owner(users.bob), kind="x", changes={"refund_destination": DEST})
    with pytest.raises(NotPermitted):
        case_edit(
            case.pk,
            actor=Actor.staff(users.agent, Role.AGENT),
            kind="x",
            changes={"refund_destination": DEST},
        )
    with pytest.raises(NotPermitted):
        case_edit(case.pk, actor=Actor.case_owner(users.alice), kind="x", changes={"assignee": users.agent})


def test_an_edit_of_a_case_changed_since_it_was_viewed_is_refused(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    case_assign(case_id=case.pk, actor=Actor.staff(users.agent, Role.AGENT), assignee_id=users.agent.pk)
    with pytest.raises(StaleCase):
        case_edit(
            case.pk,
            actor=Actor.case_owner(users.alice),
            kind="destination_changed",
            changes={"refund_destination": DEST},
            expected_version=case.version,
        )
