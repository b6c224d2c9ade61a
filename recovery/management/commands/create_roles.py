"""manage.py create_roles: the staff groups (support_agent, approver, auditor, administrator)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from recovery.accounts.staff_roles import roles_ensure


class Command(BaseCommand):
    help = "Create or update the staff groups and their permissions."

    def handle(self, *args: Any, **options: Any) -> None:
        for group, count in roles_ensure().items():
            self.stdout.write(f"{group}: {count} permissions")
