"""Approved means executed: an approved on-chain return is queued for refund, whoever approved it.

The policy, one approver or two: every approval reaches `approved` through `transition()`, whose follow-up
work enqueues `case_execute` on commit; a sweeper finds approved returns whose message was lost. An
approved account credit waits for the staff action that records the credit (`case_mark_credited`).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recovery.audit.roles import Actor
from recovery.cases.workflow import transition
from recovery.models import DepositStatus, RecoveryCase, Resolution, State
from recovery.payouts.refunds import refund_queue

log = logging.getLogger(__name__)
EXECUTOR = Actor.system("approved-case executor")
# How often an approved return looks again at a deposit that has not reached its confirmation depth.
WAIT_DEPTH = 5.0
ORPHANED = "the deposit was orphaned by a chain reorganisation after approval: nothing was paid"
NO_DEPOSIT = "the case has no recorded deposit to return: nothing was paid"


def case_execute(*, case_id: int) -> float | None:
    """Queue the refund of an approved on-chain return once its deposit is at its confirmation depth.

    Returns the seconds until it should look again (the deposit is still confirming), None when there is
    nothing more to do: queued, moved back to review, or not (or no longer) an approved on-chain return.
    """
    with transaction.atomic():
        case = (
            RecoveryCase.objects.select_for_update(of=("self",))
            .select_related("deposit")
            .filter(pk=case_id, state=State.APPROVED, resolution=Resolution.ONCHAIN_RETURN)
            .first()
        )
        if case is None:
            return None
        status = case.deposit.status if case.deposit else None
        if status == DepositStatus.PENDING:
            # Alive: the sweeper leaves a case alone while this loop still looks at it.
            RecoveryCase.objects.filter(pk=case.pk).update(updated_at=timezone.now())
            return WAIT_DEPTH
        if status != DepositStatus.CONFIRMED:
            reason = NO_DEPOSIT if status is None else ORPHANED
            transition(case.pk, State.AWAITING_REVIEW, actor=EXECUTOR, reason=reason[:200])
            log.warning("approved case not executed: %s", reason, extra={"case_id": case.pk})
            return None
        refund_queue(case_id=case.pk)
    return None


def approved_returns_due(*, older_than: timedelta | None = None) -> list[int]:
    """Approved on-chain returns left unqueued for `older_than`: their message was lost (the sweeper's)."""
    age = older_than if older_than is not None else timedelta(seconds=settings.APPROVED_STUCK_AFTER_SECONDS)
    due = RecoveryCase.objects.filter(
        state=State.APPROVED, resolution=Resolution.ONCHAIN_RETURN, updated_at__lt=timezone.now() - age
    )
    return list(due.order_by("pk").values_list("pk", flat=True)[:500])
