"""manage.py seed_demo: demo networks, staff of each role and users with deposit addresses (local only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from recovery.devtools.demo import demo_seed


class Command(BaseCommand):
    help = "Seed demo data for the embedded default (refused in production)."

    def handle(self, *args: Any, **options: Any) -> None:
        for login in demo_seed():
            self.stdout.write(f"  {login.role:<15} {login.username:<10} password: {login.password}")
