"""Celery tasks: thin. Each takes ids, calls one service, and retries only transient failures."""

from __future__ import annotations

import logging
from datetime import timedelta
from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from chains.base import TransientChainError
from recovery.cases import audit, notify
from recovery.deposits import scanning
from recovery.deposits import triage as auto_return
from recovery.models import Network
from recovery.payouts import execution, refunds

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
def sweep_unsent_notifications() -> int:
    """Re-send the messages of user-visible events nobody mailed (sending is idempotent per event)."""
    due = notify.notifications_due(
        older_than=timedelta(seconds=settings.NOTIFY_SWEEP_AFTER_SECONDS), within=timedelta(days=1)
    )
    for event_id in due:
        notify_event.delay(event_id)
    return len(due)


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


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientChainError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
)
def refund_advance(self, refund_id: int) -> str:
    """Money task: redelivered if the worker dies, so every step is idempotent (see services/refunds.py)."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    delay = refunds.refund_advance(refund_id=refund_id, redelivered=redelivered)
    if delay is not None:
        refund_advance.apply_async((refund_id,), countdown=delay)
    return "done" if delay is None else f"next step in {delay}s"


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientChainError,),
    retry_backoff=True,
    max_retries=None,
)
def case_execute(self, case_id: int) -> str:
    """An approved case is executed (its refund queued); waits while the deposit is still confirming."""
    delay = execution.case_execute(case_id=case_id)
    if delay is not None:
        case_execute.apply_async((case_id,), countdown=delay)
    return "done" if delay is None else f"deposit confirming: again in {delay}s"


@shared_task
def sweep_approved_cases() -> int:
    """Approved on-chain returns whose execute message was lost (a crash between commit and publish)."""
    due = execution.approved_returns_due()
    for case_id in due:
        case_execute.delay(case_id)
    return len(due)


@shared_task
def sweep_stuck_refunds() -> int:
    return refunds.refunds_sweep_stuck()


@shared_task(acks_late=True, autoretry_for=(TransientChainError,), retry_backoff=True, max_retries=None)
def deposits_triage(deposit_ids: list[int]) -> int:
    """Idempotent: a deposit is decided once (its row is locked and its disposition set)."""
    return auto_return.deposits_triage(deposit_ids=deposit_ids)


@shared_task
def sweep_untriaged_deposits() -> int:
    ids = auto_return.deposits_awaiting_triage()
    if ids:
        deposits_triage.delay(ids)
    return len(ids)
