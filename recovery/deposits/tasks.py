"""Celery tasks of deposits: scanning the chains and triaging new deposits. Thin: each calls one service.

Registered names are the ones these tasks had before the code was laid out by domain.
"""

from __future__ import annotations

from celery import shared_task

from chains.base import TransientChainError
from recovery.deposits import scanning, triage
from recovery.models import Network


@shared_task(
    name="recovery.tasks.scan_network",
    autoretry_for=(TransientChainError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=None,
)
def scan_network(network_id: int) -> dict:
    report = scanning.network_scan(network_id=network_id)
    return {
        "network": report.network,
        "recorded": report.recorded,
        "last": report.last,
        "skipped": report.skipped,
    }


@shared_task(name="recovery.tasks.scan_all_networks")
def scan_all_networks() -> int:
    """Fan out one scan per enabled network; the advisory lock keeps each a singleton."""
    ids = list(Network.objects.filter(scan_enabled=True).values_list("pk", flat=True))
    for network_id in ids:
        scan_network.delay(network_id)
    return len(ids)


@shared_task(
    name=scanning.TRIAGE_TASK,
    acks_late=True,
    autoretry_for=(TransientChainError,),
    retry_backoff=True,
    max_retries=None,
)
def deposits_triage(deposit_ids: list[int]) -> int:
    """Idempotent: a deposit is decided once (its row is locked and its disposition set)."""
    return triage.deposits_triage(deposit_ids=deposit_ids)


@shared_task(name="recovery.tasks.sweep_untriaged_deposits")
def sweep_untriaged_deposits() -> int:
    ids = triage.deposits_awaiting_triage()
    if ids:
        deposits_triage.delay(ids)
    return len(ids)
