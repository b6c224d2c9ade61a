"""Celery tasks: thin. Each takes ids, calls one service, and retries only transient failures."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from recovery.services import audit, notify

log = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=8,
)
def notify_event(event_id: int) -> None:
    notify.notify_event(event_id=event_id)


@shared_task
def verify_event_chain() -> int:
    return audit.audit_log_check()
