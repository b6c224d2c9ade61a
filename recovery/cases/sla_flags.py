"""Periodic SLA flagging: mark open cases near or past their deadline and escalate breaches to approvers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from recovery.audit.events import event_record
from recovery.audit.roles import Actor
from recovery.cases.sla import PAUSED_STATES, STOPPED_STATES
from recovery.models import RecoveryCase, SlaPolicy

log = logging.getLogger(__name__)

NEAR, BREACHED = "near", "breached"

# Sensible defaults per category (hours to resolve, hours of warning before the deadline).
DEFAULT_SLA_POLICIES: dict[str, tuple[int, int]] = {
    "unsupported_token": (72, 12),
    "wrong_network": (120, 24),
    "missing_memo": (48, 8),
    "below_minimum": (72, 12),
    "retired_address": (120, 24),
    "nft": (96, 12),
    "unrecoverable": (48, 8),
}


@dataclass
class SlaFlagRun:
    near: list[int] = field(default_factory=list)
    breached: list[int] = field(default_factory=list)
    cleared: list[int] = field(default_factory=list)
    escalation_mails: int = 0


def sla_policies_ensure() -> int:
    """Create the default SlaPolicy rows that are missing; never overwrite an edited target. Idempotent."""
    created = 0
    for category, (target, warn) in DEFAULT_SLA_POLICIES.items():
        _, made = SlaPolicy.objects.get_or_create(
            category=category, defaults={"target_hours": target, "warn_hours": warn}
        )
        created += made
    return created


def _warn_window(category: str, policies: dict[str, int]) -> timedelta:
    return timedelta(hours=policies.get(category, settings.SLA_DEFAULT_WARN_HOURS))


def _flag_due(case: RecoveryCase, now: datetime, warn: timedelta) -> str:
    if case.sla_due_at is None or case.sla_paused_at is not None or case.state in PAUSED_STATES:
        return case.sla_flag  # a paused clock keeps its flag until it runs again
    if now >= case.sla_due_at:
        return BREACHED
    if now >= case.sla_due_at - warn:
        return NEAR
    return ""


def sla_flag_cases(*, now: datetime | None = None) -> SlaFlagRun:
    """Re-compute every running clock's flag; each change is an event, each new breach an escalation.

    Safe to run twice at once (two beats): each case is re-read under a row lock and only a change of
    flag writes anything, so a breach is escalated once.
    """
    now = now or timezone.now()
    policies = dict(SlaPolicy.objects.values_list("category", "warn_hours"))
    run = SlaFlagRun()
    open_cases = RecoveryCase.objects.exclude(state__in=STOPPED_STATES).filter(sla_due_at__isnull=False)
    for case_id in open_cases.values_list("pk", flat=True).iterator():
        escalated = _flag_one(case_id, now, policies, run)
        if escalated is not None:
            run.escalation_mails += _escalation_mail(escalated)
    return run


@transaction.atomic
def _flag_one(case_id: int, now: datetime, policies: dict[str, int], run: SlaFlagRun) -> RecoveryCase | None:
    """Update one case's flag; returns the case when it has just breached (to escalate after commit)."""
    case = RecoveryCase.objects.select_for_update().get(pk=case_id)
    if case.state in STOPPED_STATES:
        return None
    flag = _flag_due(case, now, _warn_window(case.category, policies))
    if flag == case.sla_flag:
        return None
    before, case.sla_flag = case.sla_flag, flag
    # Not a change of the case's terms or state: the version staff act on is left alone.
    case.save(update_fields=["sla_flag"])
    data = {"from": before, "to": flag, "due": case.sla_due_at.isoformat() if case.sla_due_at else ""}
    event_record(case=case, kind="sla_flag", actor=Actor.system("sla monitor"), reason=flag, data=data)
    getattr(run, {NEAR: "near", BREACHED: "breached", "": "cleared"}[flag]).append(case.pk)
    if flag != BREACHED:
        return None
    approvers = _approver_emails()
    event_record(
        case=case,
        kind="sla_escalated",
        actor=Actor.system("sla monitor"),
        reason="deadline passed",
        data={"to": approvers, "due": data["due"]},
    )
    return case


def _approver_emails() -> list[str]:
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    approvers = users.filter(
        Q(groups__permissions__codename="approve_case") | Q(user_permissions__codename="approve_case")
    )
    return sorted(set(approvers.values_list("email", flat=True)))


def _escalation_mail(case: RecoveryCase) -> int:
    """One mail to all approvers about a breached case; a mail failure is logged, the flag stays."""
    recipients = _approver_emails()
    if not recipients:
        log.warning("sla breach with no approver to tell", extra={"case_id": case.pk})
        return 0
    subject = f"SLA breached: recovery case {case.short_ref} ({case.get_category_display()})"
    body = (
        f"Case {case.short_ref} is past its deadline ({case.sla_due_at:%Y-%m-%d %H:%M} UTC) "
        f"in state {case.get_state_display()}.\n\n{settings.SITE_URL}/staff/cases/{case.pk}/\n"
    )
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:  # the event is the record; a lost mail must not undo the flag
        log.exception("sla escalation mail failed", extra={"case_id": case.pk})
        return 0
    return 1
