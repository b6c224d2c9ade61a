"""manage.py verify_audit_log: check every event chain and report the first broken link of each."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from recovery.audit.events import event_log_verify
from recovery.models import EventChainHead


class Command(BaseCommand):
    help = "Verify the hash chains of the audit log; exit status 1 names each chain's first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        breaks = event_log_verify()
        for brk in breaks:
            self.stdout.write(f"BROKEN {brk}")
        if breaks:
            self.stdout.write(f"{len(breaks)} chain(s) broken")
            sys.exit(1)
        self.stdout.write(f"all {EventChainHead.objects.count()} chain(s) verify")
