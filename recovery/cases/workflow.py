"""The case lifecycle: the one transition table, its guards, and `transition()`, the only state changer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recovery.audit.events import event_record
from recovery.audit.reasons import REJECTION_REASONS
from recovery.audit.roles import Actor, Role
from recovery.cases.sla import sla_on_state_change
from recovery.celery import send_on_commit
from recovery.models import CLOSED_STATES, Approval, Origin, RecoveryCase, Resolution, State

S = State
USER, AGENT, APPROVER, SYSTEM = Role.USER, Role.AGENT, Role.APPROVER, Role.SYSTEM


# --- errors ---------------------------------------------------------------------------------------


class WorkflowError(Exception):
    """A workflow step was refused; nothing was written (but the refusal itself is audited)."""

    code = "workflow_error"


class IllegalTransition(WorkflowError):
    code = "illegal_transition"


class NotPermitted(WorkflowError):
    code = "not_permitted"


class StaleCase(WorkflowError):
    code = "stale_case"


class GuardFailed(WorkflowError):
    code = "guard_failed"


class FourEyesViolation(GuardFailed):
    code = "four_eyes"


class ApprovalsIncomplete(GuardFailed):
    code = "approvals_incomplete"


class ReasonRequired(GuardFailed):
    code = "reason_required"


# --- guards ---------------------------------------------------------------------------------------

Guard = Callable[[RecoveryCase, Actor, str], None]


TERMS_FIELDS = ("deposit_id", "resolution", "refund_destination", "destination_memo", "refund_amount")


def terms_digest(case: RecoveryCase) -> str:
    """What an approval approves: changing any of these voids the approvals given so far. The terms'
    version is part of it, so terms that change and change back (destination A, B, then A again) never
    revive the approvals given for the first A. (Version 0 is left out: digests from before it stay.)"""
    parts = [case.pk, *(getattr(case, field) for field in TERMS_FIELDS)]
    if case.terms_version:
        parts.append(f"terms-v{case.terms_version}")
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def _changes_apply(case: RecoveryCase, changes: dict[str, Any]) -> None:
    """Set the fields; a change to any of the terms starts a new version of them."""
    before = [getattr(case, field) for field in TERMS_FIELDS]
    for field, value in changes.items():
        setattr(case, field, value)
    if [getattr(case, field) for field in TERMS_FIELDS] != before:
        case.terms_version += 1


def approvals_required(case: RecoveryCase) -> int:
    return 2 if case.value_usd_cents > settings.TWO_APPROVER_THRESHOLD_USD_CENTS else 1


def valid_approver_ids(case: RecoveryCase) -> set[int]:
    """Distinct human approvers of the current terms, never counting the proposer."""
    approvals = Approval.objects.filter(case=case, terms_digest=terms_digest(case))
    return {a.approver_id for a in approvals if a.approver_id != case.proposed_by_id}


def approvals_complete(case: RecoveryCase) -> bool:
    if case.origin == Origin.AUTO and case.proposed_by_id is None and _auto_approved(case):
        return True
    return len(valid_approver_ids(case)) >= approvals_required(case)


def _auto_approved(case: RecoveryCase) -> bool:
    """An auto-detected case the return policy approved, for its current terms."""
    return case.events.filter(kind="auto_approve", data__terms=terms_digest(case)).exists()


def _require_not_proposer(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if case.proposed_by_id is not None and actor.user_id == case.proposed_by_id:
        raise FourEyesViolation("the proposer of a resolution can never approve it")


def _require_approvals(case: RecoveryCase, actor: Actor, reason: str) -> None:
    """Checked when approving and again when the decision is executed (refund queued, credit made)."""
    if not approvals_complete(case):
        have, need = len(valid_approver_ids(case)), approvals_required(case)
        raise ApprovalsIncomplete(f"{have} of {need} distinct approvals for the current terms")


def _require_reason_code(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if reason not in REJECTION_REASONS:
        raise ReasonRequired("a rejection needs one of the standard reason codes")


def _require_proposal(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if not case.resolution:
        raise GuardFailed("a proposal names a resolution (on-chain return or account credit)")
    if case.resolution == Resolution.ONCHAIN_RETURN and not (case.refund_destination and case.refund_amount):
        raise GuardFailed("an on-chain return needs a refund destination and an amount")
    # The policy returns to the deposit's own sender; a destination people chose must be the user's own.
    people = actor.role != SYSTEM
    unconfirmed = case.user_id is not None and case.destination_confirmed_at is None
    if case.resolution == Resolution.ONCHAIN_RETURN and people and unconfirmed:
        raise GuardFailed("the user has not confirmed the refund destination with their second factor")


def _require_onchain_return(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if case.resolution != Resolution.ONCHAIN_RETURN or case.deposit_id is None:
        raise GuardFailed("only an approved on-chain return of a recorded deposit can be queued")


def _require_credit(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if case.resolution != Resolution.ACCOUNT_CREDIT:
        raise GuardFailed("only an approved account credit can be credited")


def _require_auto_origin(case: RecoveryCase, actor: Actor, reason: str) -> None:
    if case.origin != Origin.AUTO:
        raise GuardFailed("only auto-detected cases are approved by policy")
    _require_proposal(case, actor, reason)


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edge:
    name: str
    roles: frozenset[Role]
    guards: tuple[Guard, ...] = ()


def edge(name: str, *roles: Role, guards: tuple[Guard, ...] = ()) -> Edge:
    return Edge(name, frozenset(roles), guards)


REJECT = edge("reject", APPROVER, guards=(_require_reason_code,))
CANCEL = edge("cancel", USER, SYSTEM)  # the system: a claim superseded by the address's own account
REQUEST_INFO = edge("request_info", AGENT, APPROVER)

TRANSITIONS: dict[tuple[State, State], Edge] = {
    (S.SUBMITTED, S.VERIFYING): edge("start_verification", SYSTEM, AGENT),
    (S.SUBMITTED, S.CANCELLED): CANCEL,
    (S.SUBMITTED, S.REJECTED): REJECT,
    (S.VERIFYING, S.AWAITING_REVIEW): edge("verified", SYSTEM, AGENT),
    (S.VERIFYING, S.NEEDS_INFO): edge("request_info", SYSTEM, AGENT, APPROVER),
    (S.VERIFYING, S.REJECTED): edge("reject", SYSTEM, APPROVER, guards=(_require_reason_code,)),
    (S.VERIFYING, S.APPROVED): edge("auto_approve", SYSTEM, guards=(_require_auto_origin,)),
    (S.VERIFYING, S.CANCELLED): CANCEL,
    (S.NEEDS_INFO, S.VERIFYING): edge("info_provided", USER, AGENT, SYSTEM),
    (S.NEEDS_INFO, S.REJECTED): REJECT,
    (S.NEEDS_INFO, S.CANCELLED): CANCEL,
    (S.AWAITING_REVIEW, S.NEEDS_INFO): REQUEST_INFO,
    (S.AWAITING_REVIEW, S.AWAITING_APPROVAL): edge("propose", AGENT, APPROVER, guards=(_require_proposal,)),
    (S.AWAITING_REVIEW, S.REJECTED): REJECT,
    (S.AWAITING_REVIEW, S.CANCELLED): CANCEL,
    (S.AWAITING_APPROVAL, S.APPROVED): edge(
        "approve", APPROVER, guards=(_require_not_proposer, _require_approvals)
    ),
    (S.AWAITING_APPROVAL, S.AWAITING_REVIEW): edge("withdraw_proposal", AGENT, APPROVER, SYSTEM),
    (S.AWAITING_APPROVAL, S.NEEDS_INFO): REQUEST_INFO,
    (S.AWAITING_APPROVAL, S.REJECTED): REJECT,
    (S.AWAITING_APPROVAL, S.CANCELLED): CANCEL,
    (S.APPROVED, S.REFUND_QUEUED): edge(
        "queue_refund", SYSTEM, guards=(_require_onchain_return, _require_approvals)
    ),
    (S.APPROVED, S.CREDITED): edge("credit", SYSTEM, AGENT, guards=(_require_credit, _require_approvals)),
    (S.APPROVED, S.AWAITING_REVIEW): edge("terms_changed", SYSTEM, AGENT, APPROVER),
    # The user changed the destination before the refund was signed: the queued refund is cancelled.
    (S.REFUND_QUEUED, S.AWAITING_REVIEW): edge("terms_changed", SYSTEM),
    (S.REFUND_QUEUED, S.REFUND_BROADCAST): edge("refund_broadcast", SYSTEM),
    (S.REFUND_QUEUED, S.REFUND_FAILED): edge("refund_failed", SYSTEM),
    (S.REFUND_QUEUED, S.NEEDS_REVIEW): edge("refund_unclear", SYSTEM),
    (S.REFUND_BROADCAST, S.REFUND_CONFIRMED): edge("refund_confirmed", SYSTEM),
    (S.REFUND_BROADCAST, S.REFUND_FAILED): edge("refund_failed", SYSTEM),
    (S.REFUND_BROADCAST, S.NEEDS_REVIEW): edge("refund_unclear", SYSTEM),
    (S.REFUND_CONFIRMED, S.COMPLETED): edge("complete", SYSTEM),
    (S.REFUND_CONFIRMED, S.NEEDS_REVIEW): edge("refund_unclear", SYSTEM),
    (S.NEEDS_REVIEW, S.REFUND_BROADCAST): edge("review_resumed", SYSTEM, APPROVER),
    (S.NEEDS_REVIEW, S.REFUND_CONFIRMED): edge("review_confirmed", SYSTEM, APPROVER),
    (S.NEEDS_REVIEW, S.REFUND_FAILED): edge("review_failed", SYSTEM, APPROVER),
    (S.REFUND_FAILED, S.AWAITING_REVIEW): edge("re_review", SYSTEM, AGENT, APPROVER),
    (S.REFUND_FAILED, S.REJECTED): REJECT,
}

TERMINAL_STATES = frozenset(CLOSED_STATES)


# --- who moves a case on --------------------------------------------------------------------------


@dataclass(frozen=True)
class Mover:
    """Who takes a case out of a state, and how. A system mover that runs on a message names the beat
    sweeper that finds the cases whose message was lost; one with no sweeper acts in the same transaction
    that entered the state, so a case is never committed there waiting for it."""

    role: Role
    how: str
    sweeper: str = ""


REFUND_SWEEPER = "recovery.tasks.sweep_stuck_refunds"
# Nothing may sit in a state that no process or person moves it out of (tests/cases/test_workflow_movers.py).
MOVED_ON_BY: dict[State, tuple[Mover, ...]] = {
    S.SUBMITTED: (Mover(SYSTEM, "filing and detection start verification in the filing transaction"),),
    S.VERIFYING: (
        Mover(SYSTEM, "filing, detection and the user's answer route the case in the same transaction"),
    ),
    S.NEEDS_INFO: (Mover(USER, "the user answers on the case page: a message, a proof or a refund address"),),
    S.AWAITING_REVIEW: (Mover(AGENT, "an agent proposes a resolution or asks the user; approvers reject"),),
    S.AWAITING_APPROVAL: (Mover(APPROVER, "approvers other than the proposer approve or reject"),),
    S.APPROVED: (
        Mover(SYSTEM, "an on-chain return is queued for refund", "recovery.tasks.sweep_approved_cases"),
        Mover(AGENT, "an account credit waits for staff to record the credit (Mark credited)"),
    ),
    S.REFUND_QUEUED: (Mover(SYSTEM, "the refund executor signs and sends", REFUND_SWEEPER),),
    S.REFUND_BROADCAST: (Mover(SYSTEM, "the refund executor tracks the receipt", REFUND_SWEEPER),),
    S.REFUND_CONFIRMED: (Mover(SYSTEM, "the refund executor completes the case in the same transaction"),),
    S.NEEDS_REVIEW: (Mover(APPROVER, "an approver checks the chain and records what happened"),),
    S.REFUND_FAILED: (Mover(AGENT, "staff send the case back to review or reject it"),),
}

# Resolutions that need a place to send the funds; a credit goes to the user's exchange account.
DESTINATION_FREE_CATEGORIES = frozenset({"missing_memo", "below_minimum"})


def needs_refund_destination(case: RecoveryCase) -> bool:
    """An open case that will most likely be returned on-chain but has nowhere to return it to yet."""
    if case.is_closed or case.refund_destination or case.resolution == Resolution.ACCOUNT_CREDIT:
        return False
    return case.resolution == Resolution.ONCHAIN_RETURN or case.category not in DESTINATION_FREE_CATEGORIES


def allowed_targets(state: State | str) -> list[State]:
    return [to for (frm, to) in TRANSITIONS if frm == state]


# --- follow-up work -------------------------------------------------------------------------------


# The messages a case change sends. Payouts serve EXECUTE_TASK: cases name the message, never import them.
NOTIFY_TASK = "recovery.tasks.notify_event"
EXECUTE_TASK = "recovery.tasks.case_execute"


def enqueue_follow_ups(case: RecoveryCase, event_id: int) -> None:
    """Work that starts once the change is committed (never before: a rollback must send nothing).

    Every approval, by the policy or by people, ends here: an approved on-chain return is executed.
    """
    send_on_commit(NOTIFY_TASK, event_id)
    if case.state == State.APPROVED and case.resolution == Resolution.ONCHAIN_RETURN:
        send_on_commit(EXECUTE_TASK, case.pk)


# --- transition() ---------------------------------------------------------------------------------


def transition(
    case: RecoveryCase | int,
    to: State | str,
    *,
    actor: Actor,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
) -> RecoveryCase:
    """Move a case along one edge of the table, or raise a WorkflowError having written nothing.

    Locks the case row, checks the version the actor saw, the edge, the actor's role and the edge's
    guards (after applying `changes`, the fields the step sets), saves, appends the event and enqueues
    follow-up work on commit.
    """
    case_id = case.pk if isinstance(case, RecoveryCase) else case
    to = State(to)
    with transaction.atomic():
        locked = lock_case(case_id, expected_version)
        step = TRANSITIONS.get((State(locked.state), to))
        if step is None:
            raise IllegalTransition(f"a case cannot go from {locked.state} to {to}")
        _check_actor(locked, actor, step)
        _changes_apply(locked, changes or {})
        for guard in step.guards:
            guard(locked, actor, reason)
        from_state = locked.state
        sla_on_state_change(locked, from_state, to)
        locked.state = to
        locked.version += 1
        locked.closed_at = timezone.now() if to in TERMINAL_STATES else None
        if to == State.REJECTED:
            locked.rejection_reason = reason
        locked.save()
        event = event_record(
            case=locked,
            kind=step.name,
            actor=actor,
            from_state=from_state,
            to_state=to,
            reason=reason,
            data={**(data or {}), "version": locked.version, "terms": terms_digest(locked)},
        )
        enqueue_follow_ups(locked, event.pk)
    if isinstance(case, RecoveryCase):
        case.refresh_from_db()
    return locked


def _check_actor(case: RecoveryCase, actor: Actor, step: Edge) -> None:
    _require_actor(case, actor, step.roles, step.name)


def _require_actor(case: RecoveryCase, actor: Actor, roles: frozenset[Role], what: str) -> None:
    if actor.role not in roles:
        raise NotPermitted(f"{actor.role} may not {what} a case")
    if actor.role == Role.USER and (actor.user is None or actor.user.pk != case.user_id):
        raise NotPermitted("only the case's owner may do that")
    if not actor.holds_role():
        raise NotPermitted(f"{actor.display} does not hold the {actor.role} permission")


def lock_case(case_id: int, expected_version: int | None) -> RecoveryCase:
    """The case row, locked until the transaction ends, as the actor saw it (or StaleCase)."""
    case = RecoveryCase.objects.select_for_update().get(pk=case_id)
    if expected_version is not None and case.version != expected_version:
        raise StaleCase(
            f"the case changed since it was viewed (version {case.version}, not {expected_version})"
        )
    return case


# --- case_edit(): every other case field -----------------------------------------------------------

# The case fields that change outside the state machine, and who may change each. Everything else is
# set by transition() (its `changes`), or once, when the case is filed.
EDITABLE_FIELDS: dict[str, frozenset[Role]] = {
    "assignee": frozenset({AGENT}),
    "refund_destination": frozenset({USER}),
    "destination_memo": frozenset({USER}),
    "destination_confirmed_at": frozenset({USER}),
}


def case_edit(
    case_id: int,
    *,
    actor: Actor,
    kind: str,
    changes: dict[str, Any],
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
) -> RecoveryCase:
    """Change case fields other than the state, as transition() changes the state: lock the row, check
    the version the actor saw and that the actor may change each field, save with a new version, and
    append the `kind` event. Refuses fields not in EDITABLE_FIELDS, having written nothing."""
    with transaction.atomic():
        locked = lock_case(case_id, expected_version)
        for field in changes:
            if field not in EDITABLE_FIELDS:
                raise NotPermitted(f"a case's {field} changes only through the workflow")
            _require_actor(locked, actor, EDITABLE_FIELDS[field], f"change the {field} of")
        _changes_apply(locked, changes)
        locked.version += 1
        locked.save(update_fields=[*changes, "version", "terms_version", "updated_at"])
        event_record(case=locked, kind=kind, actor=actor, data={**(data or {}), "version": locked.version})
    return locked
