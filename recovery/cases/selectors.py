"""Reads for the user side, always scoped to the requesting user: another user's objects do not exist."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from recovery.audit.reasons import reason_text
from recovery.cases.waiting import user_waiting
from recovery.models import (
    CaseEvent,
    CaseMessage,
    OwnershipChallenge,
    RecoveryCase,
    Refund,
    Resolution,
    State,
)

# Staff-internal steps the user never sees (a single approval, a refused attempt).
HIDDEN_EVENT_KINDS = frozenset({"refused", "approval_given"})

EVENT_SENTENCES = {
    "filed": "You filed the case.",
    "detected": "We detected a deposit we cannot credit and opened this case for you.",
    "start_verification": "We started checking the transaction on-chain.",
    "verified": "The transaction checked out on-chain. The case is waiting for review by support.",
    "request_info": "Support needs more information from you.",
    "info_provided": "You answered; the case is being checked again.",
    "propose": "Support proposed a resolution; it now needs approval.",
    "withdraw_proposal": "The proposed resolution was withdrawn for another review.",
    "approve": "The resolution was approved.",
    "auto_approve": "The return was approved automatically under the return policy.",
    "reject": "The case was rejected.",
    "cancel": "The case was cancelled.",
    "credit": "The funds were credited to your exchange account.",
    "queue_refund": "The refund was queued for sending.",
    "terms_changed": "The terms changed, so the case went back to review.",
    "refund_broadcast": "The refund transaction was sent to the network.",
    "refund_confirmed": "The refund transaction is confirmed on-chain.",
    "complete": "The case is complete.",
    "refund_failed": "The refund transaction failed; support will look at it again. Nothing was charged.",
    "refund_unclear": "The refund's status is unclear; a person is checking the chain.",
    "review_resumed": "A person checked the refund and it is on its way.",
    "review_confirmed": "A person confirmed the refund on-chain.",
    "review_failed": "A person found that the refund failed. Nothing was charged.",
    "re_review": "The case went back to review after a failed refund.",
    "destination_changed": "The refund destination was changed.",
    "ownership_proven": "You proved control of the sending address.",
}

NEXT_STEPS = {
    State.SUBMITTED: "We are checking the transaction on-chain.",
    State.VERIFYING: "We are checking the transaction on-chain.",
    State.NEEDS_INFO: "We need something from you (see below). The review clock waits for your answer.",
    State.AWAITING_REVIEW: "Support will review the on-chain evidence and propose a resolution.",
    State.AWAITING_APPROVAL: "An approver, never the person who proposed it, checks the resolution.",
    State.APPROVED: "The refund is being queued; a new destination waits out its cooling-off period first.",
    State.REFUND_QUEUED: "The refund will be signed and sent shortly.",
    State.REFUND_BROADCAST: "The refund was sent; we are waiting for confirmations.",
    State.REFUND_CONFIRMED: "The refund is confirmed; the case closes shortly.",
    State.COMPLETED: "Nothing: the case is complete.",
    State.CREDITED: "Nothing: the funds were credited to your account.",
    State.REJECTED: "Nothing more can be done in this case.",
    State.CANCELLED: "Nothing: you cancelled the case.",
    State.REFUND_FAILED: "Support will look at the failed refund. Nothing was charged.",
    State.NEEDS_REVIEW: "A person is checking the refund on-chain before anything else happens.",
}
CANCELLABLE = (
    State.SUBMITTED,
    State.VERIFYING,
    State.NEEDS_INFO,
    State.AWAITING_REVIEW,
    State.AWAITING_APPROVAL,
)
SLA_RUNNING = (
    State.SUBMITTED,
    State.VERIFYING,
    State.AWAITING_REVIEW,
    State.AWAITING_APPROVAL,
    State.APPROVED,
)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    sentence: str
    detail: str


def user_cases(user: Any) -> QuerySet[RecoveryCase]:
    return (
        RecoveryCase.objects.filter(user=user)
        .select_related("network")
        .only(
            "reference",
            "category",
            "state",
            "txid",
            "created_at",
            "updated_at",
            "sla_due_at",
            "network__slug",
            "network__name",
            "user_id",
        )
        .order_by("-created_at", "-pk")
    )


def user_case(user: Any, reference: Any) -> RecoveryCase:
    """The user's case with this reference; 404 for anyone else's, so existence is not revealed."""
    try:
        ref = uuid.UUID(str(reference))
    except ValueError:
        raise Http404("no such case") from None
    case = (
        RecoveryCase.objects.select_related("network", "deposit").filter(user=user, reference=ref).first()
        if getattr(user, "is_authenticated", False)
        else None
    )
    if case is None:
        raise Http404("no such case")
    return case


def case_timeline(case: RecoveryCase) -> list[TimelineEntry]:
    events = CaseEvent.objects.filter(case=case).exclude(kind__in=HIDDEN_EVENT_KINDS).order_by("seq")
    return [timeline_entry(event) for event in events]


def timeline_entry(event: CaseEvent) -> TimelineEntry:
    kind = "detected" if event.kind == "filed" and event.data.get("origin") == "auto" else event.kind
    sentence = EVENT_SENTENCES.get(kind, "The case was updated.")
    detail = ""
    if event.kind == "reject":
        detail = reason_text(event.reason)
    elif event.kind == "request_info":
        detail = str(event.data.get("question", ""))
    elif event.kind == "destination_changed":
        detail = f"New destination: {event.data.get('to', '')}"
    return TimelineEntry(event.created_at, event.kind, sentence, detail)


def open_question(case: RecoveryCase, timeline: list[TimelineEntry]) -> str:
    if case.state != State.NEEDS_INFO:
        return ""
    asked = [entry.detail for entry in timeline if entry.kind == "request_info"]
    return asked[-1] if asked else ""


def case_messages(case: RecoveryCase) -> QuerySet[CaseMessage]:
    """Messages the user may read: never staff-internal notes."""
    return CaseMessage.objects.filter(case=case, internal=False).order_by("created_at", "pk")


def case_refunds(case: RecoveryCase) -> QuerySet[Refund]:
    return Refund.objects.filter(case=case).order_by("-created_at")


def case_open_challenges(case: RecoveryCase) -> QuerySet[OwnershipChallenge]:
    return OwnershipChallenge.objects.filter(case=case, used_at__isnull=True).order_by("-created_at")


def next_step(case: RecoveryCase) -> str:
    text = user_waiting(case) or NEXT_STEPS.get(State(case.state), "")
    if case.state == State.APPROVED and case.resolution == Resolution.ACCOUNT_CREDIT:
        text = "Support credits the funds to your exchange account next."
    if case.state == State.REJECTED and case.rejection_reason:
        text = reason_text(case.rejection_reason) or text
    return text


def sla_estimate(case: RecoveryCase) -> datetime | None:
    """When we expect to have acted, shown while the clock runs (paused while we wait for the user)."""
    return case.sla_due_at if case.state in SLA_RUNNING else None


def can_cancel(case: RecoveryCase) -> bool:
    return case.state in CANCELLABLE
