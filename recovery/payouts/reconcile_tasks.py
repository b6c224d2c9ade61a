"""The periodic reconciliation task: thin, it calls the service and logs an error per discrepancy."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from recovery.payouts.reconcile import networks_reconcile, networks_to_reconcile

log = logging.getLogger(__name__)


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
