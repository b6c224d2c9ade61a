"""SLA monitoring: near and breached flags, one escalation per breach to approvers, dashboard figures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from recovery.cases.sla_flags import sla_flag_cases
from recovery.cases.tasks import flag_sla_deadlines
from recovery.models import CaseEvent, SlaPolicy, State
from tests.factories import make_case

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(network, users):
    SlaPolicy.objects.create(category="nft", target_hours=48, warn_hours=6)
    now = timezone.now()

    def due_in(hours: float, **fields):
        return make_case(
            network, users.alice, category="nft", sla_due_at=now + timedelta(hours=hours), **fields
        )

    return {
        "fine": due_in(10),
        "near": due_in(5),
        "late": due_in(-1, state=State.AWAITING_REVIEW),
        "paused": due_in(-2, state=State.NEEDS_INFO, sla_paused_at=now - timedelta(hours=3)),
        "closed": due_in(-9, state=State.REJECTED),
    }


def flags(cases) -> dict[str, str]:
    for case in cases.values():
        case.refresh_from_db()
    return {name: case.sla_flag for name, case in cases.items()}


def test_cases_near_and_past_their_deadline_are_flagged_and_the_rest_left_alone(cases):
    run = sla_flag_cases()

    assert flags(cases) == {"fine": "", "near": "near", "late": "breached", "paused": "", "closed": ""}
    assert (run.near, run.breached) == ([cases["near"].pk], [cases["late"].pk])


def test_a_breach_is_escalated_once_to_every_approver_with_an_event(cases, users):
    sla_flag_cases()
    sla_flag_cases()  # a second run (or a second beat) changes nothing

    escalations = CaseEvent.objects.filter(case=cases["late"], kind="sla_escalated")
    assert escalations.count() == 1
    assert escalations.get().data["to"] == ["approver1@example.com", "approver2@example.com"]
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["approver1@example.com", "approver2@example.com"]
    assert cases["late"].short_ref in mail.outbox[0].subject
    assert CaseEvent.objects.filter(kind="sla_flag").count() == 2


def test_a_flag_is_cleared_when_the_deadline_moves_away(cases):
    sla_flag_cases()
    near = cases["near"]
    type(near).objects.filter(pk=near.pk).update(sla_due_at=timezone.now() + timedelta(hours=40))

    run = sla_flag_cases()

    assert run.cleared == [near.pk] and flags(cases)["near"] == ""


def test_the_periodic_task_runs_the_flagging(cases):
    assert flag_sla_deadlines.apply().get() == {"near": 1, "breached": 1, "cleared": 0}


def test_the_dashboard_shows_open_cases_by_state_age_and_breaches(cases, users, staff_client):
    sla_flag_cases()
    figures = staff_client(users.agent).get("/staff/dashboard/").context["figures"]

    assert (figures.open_total, figures.breached, figures.near, figures.paused) == (4, 1, 1, 1)
    assert dict((value, n) for value, _, n in figures.open_by_state) == {
        "submitted": 2,
        "awaiting_review": 1,
        "needs_info": 1,
    }
    assert dict(figures.by_age)["under 1 day"] == 4
    assert [c.pk for c in figures.oldest_breaches] == [cases["late"].pk]


def test_default_sla_policies_are_seeded_without_overwriting_edits(db):
    SlaPolicy.objects.create(category="nft", target_hours=12, warn_hours=2)
    call_command("seed_sla_policies")
    call_command("seed_sla_policies")

    assert SlaPolicy.objects.count() == 7
    assert SlaPolicy.objects.get(category="nft").target_hours == 12
    assert SlaPolicy.objects.get(category="missing_memo").target_hours == 48
