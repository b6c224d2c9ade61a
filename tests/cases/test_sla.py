"""SLA clocks start at filing, pause while the case waits for the user, and resume with the pause added."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_file, case_request_info
from recovery.cases.sla import sla_on_state_change
from recovery.cases.workflow import transition
from recovery.models import Origin, SlaPolicy, State

pytestmark = pytest.mark.django_db


def test_a_filed_case_is_due_after_its_category_target(network, users):
    SlaPolicy.objects.create(category="nft", target_hours=48, warn_hours=8)
    before = timezone.now()
    case = case_file(
        origin=Origin.USER,
        category="nft",
        network=network,
        txid="0x" + "1" * 64,
        actor=Actor.case_owner(users.alice),
        user=users.alice,
    )
    assert before + timedelta(hours=48) <= case.sla_due_at <= timezone.now() + timedelta(hours=48)


def test_the_clock_pauses_while_waiting_for_the_user_and_the_pause_is_added_back(network, users):
    case = case_file(
        origin=Origin.USER,
        category="nft",
        network=network,
        txid="0x" + "2" * 64,
        actor=Actor.case_owner(users.alice),
        user=users.alice,
    )
    transition(case.pk, State.VERIFYING, actor=Actor.system())
    due = case.sla_due_at
    case = case_request_info(
        case_id=case.pk, actor=Actor.staff(users.agent, Role.AGENT), question="Which wallet?"
    )
    assert case.sla_paused_at is not None

    three_hours_later = case.sla_paused_at + timedelta(hours=3)
    sla_on_state_change(case, State.NEEDS_INFO, State.VERIFYING, now=three_hours_later)

    assert case.sla_paused_at is None
    assert case.sla_due_at == due + timedelta(hours=3)
