"""manage.py seed_sla_policies: create the default SLA target of each category that has none."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from recovery.cases.sla_flags import sla_policies_ensure


class Command(BaseCommand):
    help = "Create missing SlaPolicy rows with the defaults (never overwrites an edited target)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{sla_policies_ensure()} SLA polic(ies) created")
