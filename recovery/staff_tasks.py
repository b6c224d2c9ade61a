"""Celery tasks of the staff side: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from recovery.services.sla_flags import sla_flag_cases


@shared_task
def flag_sla_deadlines() -> dict[str, int]:
    run = sla_flag_cases()
    return {"near": len(run.near), "breached": len(run.breached), "cleared": len(run.cleared)}
