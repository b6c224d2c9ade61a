"""Celery tasks of payouts: executing approved cases, advancing refunds, the sweepers, reconciliation.

Thin: each takes ids, calls one service, and retries only transient chain errors. Money tasks are
acks-late and rejected on a lost worker, so every step they call is idempotent. Registered names are the
ones these tasks had before the code was laid out by domain.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from chains.base import TransientChainError
from recovery.cases.workflow import EXECUTE_TASK
from recovery.payouts import execution, gas_top_ups, refunds
from recovery.payouts.reconcile import networks_reconcile, networks_to_reconcile

log = logging.getLogger(__name__)
MONEY_TASK = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (TransientChainError,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": None,
}


@shared_task(name=refunds.ADVANCE_TASK, **MONEY_TASK)
def refund_advance(self, refund_id: int) -> str:
    """Money task: redelivered if the worker dies, so every step is idempotent (see payouts/refunds.py)."""
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    delay = refunds.refund_advance(refund_id=refund_id, redelivered=redelivered)
    if delay is not None:
        refund_advance.apply_async((refund_id,), countdown=delay)
    return "done" if delay is None else f"next step in {delay}s"


@shared_task(name=EXECUTE_TASK, **MONEY_TASK)
def case_execute(self, case_id: int) -> str:
    """An approved case is executed (its refund queued); waits while the deposit is still confirming."""
    delay = execution.case_execute(case_id=case_id)
    if delay is not None:
        case_execute.apply_async((case_id,), countdown=delay)
    return "done" if delay is None else f"deposit confirming: again in {delay}s"


@shared_task(name="recovery.tasks.sweep_approved_cases")
def sweep_approved_cases() -> int:
    """Approved on-chain returns whose execute message was lost (a crash between commit and publish)."""
    due = execution.approved_returns_due()
    for case_id in due:
        case_execute.delay(case_id)
    return len(due)


@shared_task(name="recovery.tasks.sweep_stuck_refunds")
def sweep_stuck_refunds() -> int:
    """Refunds left in a working state too long (a lost message, a dead worker) go to the workers again;
    gas top-up batches left unsettled are followed to their end here."""
    stuck = refunds.refunds_stuck()
    for refund_id in stuck:
        refund_advance.delay(refund_id)
    gas_top_ups.batches_unsettled_follow()
    return len(stuck)


# Read-only and idempotent: a second beat or a redelivery only repeats the check. It may read a long
# history, so it gets more time than the default task limit.
@shared_task(name="recovery.reconcile_tasks.reconcile_networks", time_limit=1800, soft_time_limit=1500)
def reconcile_networks() -> dict[str, dict[str, Any]]:
    reports = networks_reconcile(networks_to_reconcile())
    for report in reports:
        if not report.checked:
            level = logging.ERROR if report.family == "evm" else logging.INFO
            log.log(
                level,
                "reconciliation of %s: %s",
                report.network,
                report.note,
                extra={"network": report.network},
            )
        for d in report.discrepancies:
            log.error(
                "reconciliation discrepancy on %s: %s",
                report.network,
                d,
                extra={
                    "network": report.network,
                    "account": d.account,
                    "nonce": d.nonce,
                    "kind": str(d.kind),
                    "txid": d.txid or None,
                    "refund_id": d.refund_id,
                    "batch_id": d.batch_id,
                },
            )
    return {report.network: report.as_dict() for report in reports}
