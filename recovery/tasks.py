"""Celery tasks: thin. Each takes ids, calls one service, and retries only transient failures."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from chains.base import TransientChainError
from recovery.models import Network
from recovery.services import audit, notify, scanning

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


@shared_task(autoretry_for=(TransientChainError,), retry_backoff=True, retry_backoff_max=60, max_retries=None)
def scan_network(network_id: int) -> dict:
    report = scanning.network_scan(network_id=network_id)
    return {
        "network": report.network,
        "recorded": report.recorded,
        "last": report.last,
        "skipped": report.skipped,
    }


@shared_task
def scan_all_networks() -> int:
    """Fan out one scan per enabled network; the advisory lock keeps each a singleton."""
    ids = list(Network.objects.filter(scan_enabled=True).values_list("pk", flat=True))
    for network_id in ids:
        scan_network.delay(network_id)
    return len(ids)
