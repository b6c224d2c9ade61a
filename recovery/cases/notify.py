"""Telling users what happened to their case: one e-mail per user-visible event, sent at most once."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from recovery.audit.reasons import reason_text
from recovery.cases.selectors import timeline_entry
from recovery.models import CaseEvent, Notification, State, UserProfile

log = logging.getLogger(__name__)

# Events the user hears about; staff-internal steps (an approval given, a refused attempt) are not mailed.
USER_VISIBLE_KINDS = frozenset(
    {
        "filed",
        "verified",
        "request_info",
        "auto_approve",
        "approve",
        "reject",
        "cancel",
        "credit",
        "refund_broadcast",
        "refund_confirmed",
        "complete",
        "refund_failed",
        "refund_unclear",
        "destination_changed",
    }
)


def notify_event(*, event_id: int) -> Notification | None:
    """Send the e-mail for an event once; a redelivered task finds the Notification row and stops."""
    event = CaseEvent.objects.select_related("case__user").get(pk=event_id)
    case = event.case
    if case is None or case.user is None or event.kind not in USER_VISIBLE_KINDS or not case.user.email:
        return None
    with transaction.atomic():
        # Subject and body describe this event, not the state the case has reached by the time it is sent.
        entry = timeline_entry(event)
        state_label = State(event.to_state).label if event.to_state else ""
        subject = f"Recovery case {case.short_ref}: {state_label or entry.sentence.rstrip('.')}"
        notification, created = Notification.objects.get_or_create(
            event=event, channel="email", defaults={"user": case.user, "subject": subject[:200]}
        )
        if not created:
            return notification
        profile = UserProfile.objects.filter(user=case.user).first()
        body = render_to_string(
            "emails/case_event.txt",
            {
                "case": case,
                "event": event,
                "state_label": state_label,
                "sentence": entry.sentence,
                "anti_phishing_code": profile.anti_phishing_code if profile else "",
                "reason_text": reason_text(event.reason),
                "site_url": settings.SITE_URL,
            },
        )
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [case.user.email])
    log.info("case notification sent", extra={"case_id": case.pk, "event": event.kind})
    return notification


def notifications_due(*, older_than: timedelta, within: timedelta) -> list[int]:
    """User-visible events that should have been mailed by now and were not: the message that would have
    sent them was lost (a worker killed holding it, a broker restart). Looked for only `within` back, so
    old history is never mailed late."""
    now = timezone.now()
    events = CaseEvent.objects.filter(
        kind__in=USER_VISIBLE_KINDS,
        created_at__lt=now - older_than,
        created_at__gte=now - within,
        case__user__isnull=False,
    ).exclude(case__user__email="")
    return list(events.filter(notifications__isnull=True).order_by("pk").values_list("pk", flat=True)[:500])
