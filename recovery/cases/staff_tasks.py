"""Celery tasks of the staff side: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from recovery.cases.sla_flags import sla_flag_cases


# The name it was registered under before the move: messages queued before a deploy still run.
@shared_task(name="recovery.staff_tasks.flag_sla_deadlines")
def flag_sla_deadlines() -> dict[str, int]:
    run = sla_flag_cases()
    return {"near": len(run.near), "breached": len(run.breached), "cleared": len(run.cleared)}
