"""Staff writes on the queue not covered by services/cases.py: assignment, triage, a checked proposal."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import audited_refusal, case_propose
from recovery.cases.workflow import (
    IllegalTransition,
    NotPermitted,
    WorkflowError,
    case_edit,
    lock_case,
    transition,
)
from recovery.models import RecoveryCase, Resolution, State

# The actions a staff page offers, and the workflow role each is taken in. Agents and approvers both
# hold `work_case`, so an approver triages and proposes as an agent; deciding needs the approver role.
ACTION_ROLES: dict[str, Role] = {
    "assign": Role.AGENT,
    "triage": Role.AGENT,
    "request_info": Role.AGENT,
    "request_destination": Role.AGENT,
    "propose": Role.AGENT,
    "approve": Role.APPROVER,
    "reject": Role.APPROVER,
    # The table's `credit` edge is an agent's; approvers hold `work_case` too, so they record it as agents.
    "mark_credited": Role.AGENT,
}

# Triage walks the table's own edges towards `awaiting_review`; each step is checked by transition().
TRIAGE_PATH: dict[str, tuple[State, ...]] = {
    State.SUBMITTED: (State.VERIFYING, State.AWAITING_REVIEW),
    State.VERIFYING: (State.AWAITING_REVIEW,),
    State.NEEDS_INFO: (State.VERIFYING, State.AWAITING_REVIEW),
}


def staff_actor(user: Any, action: str) -> Actor:
    """The actor a staff member acts as for one page action (the permission is checked later, audited)."""
    return Actor.staff(user, ACTION_ROLES[action])


def _require_role(actor: Actor) -> None:
    if not actor.holds_role():
        raise NotPermitted(f"{actor.display} does not hold the {actor.role} permission")


@audited_refusal("assign")
def case_assign(
    *, case_id: int, actor: Actor, assignee_id: int | None, expected_version: int | None = None
) -> RecoveryCase:
    """Give a case to an agent (or take it back to the pool); the assignee must be able to work cases."""
    with transaction.atomic():
        case = lock_case(case_id, expected_version)
        if case.is_closed:
            raise IllegalTransition(f"a {case.state} case is closed and cannot be reassigned")
        assignee = None
        if assignee_id is not None:
            assignee = get_user_model().objects.filter(pk=assignee_id, is_active=True).first()
            if assignee is None or not assignee.has_perm("recovery.work_case"):
                raise NotPermitted("a case can only be assigned to an active member of staff who works cases")
        names = {"from": case.assignee.get_username() if case.assignee else ""}
        names["to"] = assignee.get_username() if assignee else ""
        return case_edit(case.pk, actor=actor, kind="assigned", changes={"assignee": assignee}, data=names)


@audited_refusal("triage")
def case_triage(*, case_id: int, actor: Actor, expected_version: int | None = None) -> RecoveryCase:
    """Put a case in front of reviewers (`awaiting_review`) through the table's edges, all or nothing."""
    with transaction.atomic():
        case = lock_case(case_id, expected_version)
        path = TRIAGE_PATH.get(State(case.state))
        if path is None:
            raise IllegalTransition(f"a case in {case.state} is past triage")
        for step in path:
            case = transition(case.pk, step, actor=actor, reason="triage")
        return case


@audited_refusal("propose")
def case_propose_resolution(
    *,
    case_id: int,
    actor: Actor,
    resolution: str,
    refund_amount: int,
    expected_version: int | None = None,
) -> RecoveryCase:
    """Propose a resolution whose amount is at most the deposit net of the quoted fee, then hand over.

    The checks and `case_propose` form one audited action: the undecorated proposal is called so a
    refusal is recorded once, not twice.
    """
    _require_role(actor)
    with transaction.atomic():
        case = lock_case(case_id, expected_version)
        if resolution not in Resolution.values:
            raise WorkflowError("a proposal is an on-chain return or an account credit")
        if case.deposit is None:
            raise WorkflowError("no on-chain deposit is linked to this case yet: it cannot be resolved")
        net = case.deposit.amount - case.fee_amount
        if net <= 0:
            raise WorkflowError(f"the quoted fee ({case.fee_amount}) takes the whole deposit: reject instead")
        if not 0 < refund_amount <= net:
            raise WorkflowError(f"the amount must be between 1 and {net} base units (deposit net of fee)")
        return case_propose.__wrapped__(
            case_id=case_id,
            actor=actor,
            resolution=Resolution(resolution),
            refund_amount=refund_amount,
            expected_version=expected_version,
        )
