"""The transition table, edge by edge: every allowed edge works, every other pair is refused."""

from __future__ import annotations

import itertools

import pytest

from recovery.audit.events import event_chain_verify
from recovery.audit.roles import Actor, Role
from recovery.cases.workflow import TRANSITIONS, IllegalTransition, NotPermitted, terms_digest, transition
from recovery.models import Approval, CaseEvent, Origin, RecoveryCase, Resolution, State
from tests.factories import make_case, make_deposit

ALLOWED = sorted(TRANSITIONS, key=lambda pair: (pair[0].value, pair[1].value))
FORBIDDEN = [(frm, to) for frm, to in itertools.product(State, State) if (frm, to) not in TRANSITIONS]


def actor_for(role: Role, users, case: RecoveryCase) -> Actor:
    return {
        Role.USER: Actor.case_owner(users.alice),
        Role.AGENT: Actor.staff(users.agent, Role.AGENT),
        Role.APPROVER: Actor.staff(users.approver2, Role.APPROVER),
        Role.SYSTEM: Actor.system("test"),
        Role.ADMIN: Actor.staff(users.agent, Role.ADMIN),
    }[role]


def case_ready_for(frm: State, to: State, network, users) -> RecoveryCase:
    """A case in `frm` whose data satisfies the guards of the edge to `to`."""
    case = make_case(network, users.alice, state=frm)
    name = TRANSITIONS.get((frm, to)).name if (frm, to) in TRANSITIONS else ""
    if name in {"propose", "auto_approve", "approve", "queue_refund", "credit"}:
        case.deposit = make_deposit(network)
        case.resolution = Resolution.ACCOUNT_CREDIT if name == "credit" else Resolution.ONCHAIN_RETURN
        case.refund_amount = 10**18
        case.proposed_by = users.agent if name != "auto_approve" else None
        case.origin = Origin.AUTO if name == "auto_approve" else Origin.USER
        case.save()
    if name in {"approve", "queue_refund", "credit"}:
        Approval.objects.create(
            case=case, approver=users.approver1, terms_digest=terms_digest(case), case_version=case.version
        )
    return case


def reason_for(name: str) -> str:
    return "not_our_address" if name == "reject" else ""


@pytest.mark.django_db
@pytest.mark.parametrize(("frm", "to"), ALLOWED, ids=[f"{f}->{t}" for f, t in ALLOWED])
def test_every_allowed_edge_moves_the_case_and_writes_one_chained_event(frm, to, network, users):
    edge = TRANSITIONS[(frm, to)]
    case = case_ready_for(frm, to, network, users)
    role = sorted(edge.roles)[0]

    moved = transition(case.pk, to, actor=actor_for(role, users, case), reason=reason_for(edge.name))

    assert moved.state == to
    assert moved.version == case.version + 1
    event = CaseEvent.objects.get(case=case)
    assert (event.kind, event.from_state, event.to_state) == (edge.name, frm, to)
    assert event_chain_verify(f"case:{case.pk}") is None


@pytest.mark.django_db
@pytest.mark.parametrize(("frm", "to"), FORBIDDEN, ids=[f"{f}->{t}" for f, t in FORBIDDEN])
def test_every_pair_outside_the_table_is_refused_and_writes_nothing(frm, to, network, users):
    case = case_ready_for(frm, to, network, users)

    with pytest.raises(IllegalTransition):
        transition(case.pk, to, actor=Actor.system("test"), reason="not_our_address")

    case.refresh_from_db()
    assert case.state == frm and case.version == 1
    assert not CaseEvent.objects.filter(case=case).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("frm", "to"), ALLOWED, ids=[f"{f}->{t}" for f, t in ALLOWED])
def test_every_edge_refuses_the_roles_it_does_not_name(frm, to, network, users):
    edge = TRANSITIONS[(frm, to)]
    outsiders = [role for role in Role if role not in edge.roles]
    for role in outsiders:
        case = case_ready_for(frm, to, network, users)
        with pytest.raises(NotPermitted):
            transition(case.pk, to, actor=actor_for(role, users, case), reason=reason_for(edge.name))
        case.refresh_from_db()
        assert case.state == frm


def test_the_table_only_names_known_states_and_every_state_is_reachable_or_initial():
    targets = {to for _, to in TRANSITIONS}
    unreachable = set(State) - targets - {State.SUBMITTED}
    assert unreachable == set()
    closed = {State.COMPLETED, State.CREDITED, State.REJECTED, State.CANCELLED}
    assert not [pair for pair in TRANSITIONS if pair[0] in closed], "closed states have no way out"
