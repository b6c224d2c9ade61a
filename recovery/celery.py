"""The Celery app, configured from Django settings (CELERY_* names); each domain package holds its tasks."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from django.db import transaction

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")

app = Celery("recovery")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["recovery.cases", "recovery.deposits", "recovery.payouts"])


def send_on_commit(name: str, *args: Any, countdown: float | None = None) -> None:
    """Publish the task registered as `name` once the current transaction commits (never before: a
    rollback must send nothing). By name, so a service never imports the task module that calls it;
    the routes in settings apply by name too."""
    transaction.on_commit(lambda: app.send_task(name, args=args, countdown=countdown))
