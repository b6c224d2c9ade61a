"""Nothing sits in a state that no process or person moves it out of: the movers table, checked."""

from __future__ import annotations

import pytest
from django.conf import settings

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_propose
from recovery.cases.workflow import EXECUTE_TASK, MOVED_ON_BY, TERMINAL_STATES, TRANSITIONS
from recovery.celery import app
from recovery.models import Resolution, State
from tests.factories import make_case, make_deposit


def test_every_open_state_names_who_or_what_moves_it_on():
    open_states = set(State) - set(TERMINAL_STATES)
    assert set(MOVED_ON_BY) == open_states
    assert all(MOVED_ON_BY[state] for state in open_states)


@pytest.mark.parametrize("state", sorted(MOVED_ON_BY))
def test_each_mover_may_take_an_edge_out_of_its_state(state):
    for mover in MOVED_ON_BY[state]:
        roles_out = {role for (frm, _), edge in TRANSITIONS.items() if frm == state for role in edge.roles}
        assert mover.role in roles_out, f"{mover.role} cannot move a case out of {state}"


@pytest.mark.parametrize("state", sorted(MOVED_ON_BY))
def test_a_system_mover_on_a_message_has_a_sweeper_on_the_beat(state):
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for mover in MOVED_ON_BY[state]:
        if mover.sweeper:
            assert mover.sweeper in scheduled
            assert mover.sweeper in app.tasks


@pytest.mark.django_db(transaction=True)
def test_an_approval_by_people_executes_the_case_on_commit(network, users, monkeypatch):
    """The wiring that was missing: a staff approval enqueues the execution, as the policy's does."""
    executed: list[tuple] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **options: executed.append((name, *args)))
    deposit = make_deposit(network)
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=deposit)
    agent = Actor.staff(users.agent, Role.AGENT)
    case_propose(case_id=case.pk, actor=agent, resolution=Resolution.ONCHAIN_RETURN, refund_amount=10**18)
    assert not [sent for sent in executed if sent[0] == EXECUTE_TASK]

    case_approve(case_id=case.pk, actor=Actor.staff(users.approver1, Role.APPROVER))

    case.refresh_from_db()
    assert case.state == State.APPROVED and (EXECUTE_TASK, case.pk) in executed


@pytest.mark.django_db(transaction=True)
def test_an_approved_account_credit_is_not_sent_to_the_executor(network, users, monkeypatch):
    executed: list[tuple] = []
    monkeypatch.setattr(app, "send_task", lambda name, args, **options: executed.append((name, *args)))
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=make_deposit(network))
    agent = Actor.staff(users.agent, Role.AGENT)
    case_propose(case_id=case.pk, actor=agent, resolution=Resolution.ACCOUNT_CREDIT, refund_amount=10**18)
    case_approve(case_id=case.pk, actor=Actor.staff(users.approver1, Role.APPROVER))
    case.refresh_from_db()
    assert case.state == State.APPROVED and not [sent for sent in executed if sent[0] == EXECUTE_TASK]
