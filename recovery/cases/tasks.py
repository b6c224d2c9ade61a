"""Celery tasks of cases: notifications, the audit log check, SLA flags. Thin: each calls one service.

Registered names are the ones these tasks had before the code was laid out by domain, so messages queued
before a deploy still run after it.
"""

from __future__ import annotations

from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from recovery.audit import verify
from recovery.cases import notify
from recovery.cases.sla_flags import sla_flag_cases
from recovery.cases.workflow import NOTIFY_TASK


@shared_task(
    name=NOTIFY_TASK,
    acks_late=True,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=8,
)
def notify_event(event_id: int) -> None:
    notify.notify_event(event_id=event_id)


@shared_task(name="recovery.tasks.sweep_unsent_notifications")
def sweep_unsent_notifications() -> int:
    """Re-send the messages of user-visible events nobody mailed (sending is idempotent per event)."""
    due = notify.notifications_due(
        older_than=timedelta(seconds=settings.NOTIFY_SWEEP_AFTER_SECONDS), within=timedelta(days=1)
    )
    for event_id in due:
        notify_event.delay(event_id)
    return len(due)


@shared_task(name="recovery.tasks.verify_event_chain")
def verify_event_chain() -> int:
    return verify.audit_log_check()


@shared_task(name="recovery.staff_tasks.flag_sla_deadlines")
def flag_sla_deadlines() -> dict[str, int]:
    run = sla_flag_cases()
    return {"near": len(run.near), "breached": len(run.breached), "cleared": len(run.cleared)}
