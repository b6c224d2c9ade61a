"""SLA clocks: a due time per case from its category's target; the clock pauses while we wait for the user."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from recovery.models import RecoveryCase, SlaPolicy, State

# States in which the exchange owes the user nothing but waiting (the user must act, or it is done).
PAUSED_STATES = frozenset({State.NEEDS_INFO})
STOPPED_STATES = frozenset(
    {State.COMPLETED, State.CREDITED, State.REJECTED, State.CANCELLED, State.REFUND_CONFIRMED}
)


def _target_for(category: str) -> timedelta:
    policy = SlaPolicy.objects.filter(category=category).first()
    hours = policy.target_hours if policy else settings.SLA_DEFAULT_HOURS
    return timedelta(hours=hours)


def sla_start(case: RecoveryCase, now: datetime | None = None) -> None:
    """Set the due time of a new case (not saved here)."""
    case.sla_due_at = (now or timezone.now()) + _target_for(case.category)


def sla_on_state_change(
    case: RecoveryCase, from_state: str, to_state: str, now: datetime | None = None
) -> None:
    """Pause on entering a waiting state, push the due time by the pause on leaving it (not saved here)."""
    now = now or timezone.now()
    if to_state in PAUSED_STATES and case.sla_paused_at is None:
        case.sla_paused_at = now
    elif from_state in PAUSED_STATES and to_state not in PAUSED_STATES and case.sla_paused_at is not None:
        if case.sla_due_at is not None:
            case.sla_due_at += now - case.sla_paused_at
        case.sla_paused_at = None
    if to_state in STOPPED_STATES:
        case.sla_flag = ""
