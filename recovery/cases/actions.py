"""Writes on recovery cases: filing, proposals, approvals, rejections, credits, destination changes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from django.db import connection, transaction

from recovery.audit.events import event_record
from recovery.audit.roles import Actor, Role
from recovery.cases.sla import sla_start
from recovery.cases.workflow import (
    FourEyesViolation,
    IllegalTransition,
    NotPermitted,
    WorkflowError,
    approvals_complete,
    case_edit,
    enqueue_follow_ups,
    lock_case,
    terms_digest,
    transition,
)
from recovery.models import (
    LIVE_REFUND_STATES,
    Approval,
    Deposit,
    Network,
    Origin,
    RecoveryCase,
    Refund,
    RefundState,
    Resolution,
    State,
    refund_move,
)

P = ParamSpec("P")
R = TypeVar("R")

# The exchange's ledger/transaction id of an account credit, as staff copy it from the ledger.
LEDGER_REFERENCE_MAX_LENGTH = 100


class LedgerReferenceInvalid(WorkflowError):
    code = "ledger_reference"


def audited_refusal(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Record a refused action in the audit log, after the action's own transaction has rolled back.

    Inside a caller's transaction the record shares that transaction's fate; services are called
    outside one (views, tasks), so there the refusal is committed on its own.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except WorkflowError as error:
                if not connection.needs_rollback:
                    case = RecoveryCase.objects.filter(pk=kwargs.get("case_id")).first()
                    actor = kwargs["actor"]
                    assert isinstance(actor, Actor)
                    event_record(
                        case=case,
                        kind="refused",
                        actor=actor,
                        reason=error.code,
                        data={"action": action, "message": str(error)},
                    )
                raise

        return wrapper

    return decorate


@transaction.atomic
def case_file(
    *,
    origin: Origin,
    category: str,
    network: Network,
    txid: str,
    actor: Actor,
    user: Any = None,
    deposit: Deposit | None = None,
    claim: dict[str, Any] | None = None,
    refund_destination: str = "",
    destination_memo: str = "",
    destination_confirmed_at: datetime | None = None,
    fee_amount: int = 0,
    fee_quote: dict[str, Any] | None = None,
    value_usd_cents: int = 0,
) -> RecoveryCase:
    """Open a case in `submitted` and write its first event."""
    case = RecoveryCase(
        origin=origin,
        category=category,
        network=network,
        txid=txid,
        user=user,
        deposit=deposit,
        claim=claim or {},
        refund_destination=refund_destination,
        destination_memo=destination_memo,
        destination_confirmed_at=destination_confirmed_at,
        fee_amount=fee_amount,
        fee_quote=fee_quote or {},
        value_usd_cents=value_usd_cents,
    )
    sla_start(case)
    case.save()
    event = event_record(
        case=case, kind="filed", actor=actor, to_state=State.SUBMITTED, data={"origin": origin}
    )
    enqueue_follow_ups(case, event.pk)
    return case


@audited_refusal("propose")
def case_propose(
    *,
    case_id: int,
    actor: Actor,
    resolution: Resolution,
    refund_amount: int | None,
    expected_version: int | None = None,
) -> RecoveryCase:
    """Propose how to resolve a case; the proposer can then never approve it."""
    if refund_amount is not None and refund_amount <= 0:
        raise WorkflowError("a refund amount must be a positive number of base units")
    changes = {"resolution": resolution, "refund_amount": refund_amount, "proposed_by": actor.user}
    return transition(
        case_id, State.AWAITING_APPROVAL, actor=actor, changes=changes, expected_version=expected_version
    )


@audited_refusal("approve")
def case_approve(*, case_id: int, actor: Actor, expected_version: int | None = None) -> RecoveryCase:
    """Add the actor's approval of the current terms; the case moves to `approved` once they are complete."""
    if actor.role != Role.APPROVER or not actor.holds_role():
        raise NotPermitted("only an approver may approve")
    with transaction.atomic():
        case = lock_case(case_id, expected_version)
        if case.state != State.AWAITING_APPROVAL:
            raise IllegalTransition(f"a case in {case.state} cannot be approved")
        if actor.user_id == case.proposed_by_id:
            raise FourEyesViolation("the proposer of a resolution can never approve it")
        digest = terms_digest(case)
        if Approval.objects.filter(case=case, approver=actor.user, terms_digest=digest).exists():
            raise FourEyesViolation(
                "you already approved these terms: a second approver must be someone else"
            )
        Approval.objects.create(
            case=case, approver=actor.user, terms_digest=digest, case_version=case.version
        )
        event_record(case=case, kind="approval_given", actor=actor, data={"terms": digest})
        if approvals_complete(case):
            return transition(case.pk, State.APPROVED, actor=actor)
        return case


@audited_refusal("reject")
def case_reject(
    *, case_id: int, actor: Actor, reason_code: str, expected_version: int | None = None
) -> RecoveryCase:
    return transition(
        case_id, State.REJECTED, actor=actor, reason=reason_code, expected_version=expected_version
    )


@audited_refusal("request_info")
def case_request_info(
    *, case_id: int, actor: Actor, question: str, expected_version: int | None = None
) -> RecoveryCase:
    return transition(
        case_id,
        State.NEEDS_INFO,
        actor=actor,
        data={"question": question[:2000]},
        expected_version=expected_version,
    )


# A structured information request: the user answers it by setting a refund address, not by a message.
REFUND_ADDRESS_REQUEST = "refund_address"
REFUND_ADDRESS_QUESTION = (
    "Tell us where to send your funds back: set a refund address below, on this case's page. "
    "We confirm it with your second factor before anything is sent."
)


@audited_refusal("request_destination")
def case_request_destination(
    *, case_id: int, actor: Actor, expected_version: int | None = None
) -> RecoveryCase:
    """Ask the user for a refund address; the case (and its SLA clock) waits until they set one."""
    return transition(
        case_id,
        State.NEEDS_INFO,
        actor=actor,
        data={"question": REFUND_ADDRESS_QUESTION, "request": REFUND_ADDRESS_REQUEST},
        expected_version=expected_version,
    )


def open_request(case: RecoveryCase) -> str:
    """What the open information request asks for: the refund address, or '' for a free question."""
    if case.state != State.NEEDS_INFO:
        return ""
    asked = case.events.filter(to_state=State.NEEDS_INFO).order_by("-seq").first()
    return str(asked.data.get("request", "")) if asked else ""


def case_resume_after_answer(*, case: RecoveryCase, actor: Actor, answer: str) -> RecoveryCase:
    """The user answered what the case waited for: back to review, in the same transaction."""
    transition(case.pk, State.VERIFYING, actor=actor, data={"answer": answer})
    return transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system("user answered"))


@audited_refusal("mark_credited")
def case_mark_credited(
    *, case_id: int, actor: Actor, ledger_reference: str, expected_version: int | None = None
) -> RecoveryCase:
    """Record that the exchange credited the user's account, and close the case as `credited`.

    The ledger reference is what ties the case to the exchange's books, so it is required; it is
    kept in the event's data (the audit log is the record). Roles and guards (an account-credit
    resolution, complete approvals) are the table's `credit` edge.
    """
    reference = (ledger_reference or "").strip()
    if not reference:
        raise LedgerReferenceInvalid("a credit needs the exchange's ledger or transaction reference")
    if len(reference) > LEDGER_REFERENCE_MAX_LENGTH:
        raise LedgerReferenceInvalid(
            f"a ledger reference has at most {LEDGER_REFERENCE_MAX_LENGTH} characters"
        )
    if not reference.isprintable():
        raise LedgerReferenceInvalid("a ledger reference is one line of printable characters")
    return transition(
        case_id,
        State.CREDITED,
        actor=actor,
        data={"ledger_reference": reference},
        expected_version=expected_version,
    )


@audited_refusal("cancel")
def case_cancel(*, case_id: int, actor: Actor) -> RecoveryCase:
    return transition(case_id, State.CANCELLED, actor=actor)


@audited_refusal("change_destination")
def case_change_destination(
    *, case_id: int, actor: Actor, destination: str, memo: str = "", confirmed_at: datetime | None = None
) -> RecoveryCase:
    """A new refund destination voids the approvals (they approved other terms) and needs a fresh review.

    `confirmed_at`: when the user confirmed exactly this destination with their second factor (None: not
    confirmed, which an on-chain return to it can be neither proposed nor signed without).
    """
    with transaction.atomic():
        case = lock_case(case_id, None)
        if case.state in (State.REFUND_BROADCAST, State.REFUND_CONFIRMED, State.COMPLETED):
            raise IllegalTransition("the refund is already under way: its destination can no longer change")
        if case.state == State.REFUND_QUEUED:
            _refund_cancel_unsigned(case)
        changes = {
            "refund_destination": destination,
            "destination_memo": memo,
            "destination_confirmed_at": confirmed_at,
        }
        data = {"from": case.refund_destination, "to": destination, "memo": memo}
        case = case_edit(case.pk, actor=actor, kind="destination_changed", changes=changes, data=data)
        if case.state in (State.AWAITING_APPROVAL, State.APPROVED, State.REFUND_QUEUED):
            back = State.AWAITING_REVIEW
            return transition(case.pk, back, actor=Actor.system("destination change"), reason="terms changed")
        return case


def _refund_cancel_unsigned(case: RecoveryCase) -> None:
    """Cancel the case's queued refund before it is signed, or refuse: signed bytes may still be mined.

    The refund row is locked first; the executor claims a refund for signing under the same row lock and
    only while it is queued, so it either signed already (refused here) or finds it cancelled.
    """
    refund = Refund.objects.select_for_update().filter(case=case, state__in=LIVE_REFUND_STATES).first()
    if refund is None:
        return
    reason = "the refund destination changed before signing"
    if refund.state != RefundState.QUEUED or not refund_move(
        refund.pk, to=RefundState.CANCELLED, last_error=reason
    ):
        raise IllegalTransition("the refund is already signed: its destination can no longer change")
