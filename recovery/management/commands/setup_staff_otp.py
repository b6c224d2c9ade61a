"""manage.py setup_staff_otp USERNAME | --demo: enrol a staff member's TOTP device, print the otpauth URI."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.staff.otp import DEMO_TOTP_SECRETS, staff_otp_demo_enrol, staff_otp_enrol


class Command(BaseCommand):
    help = "Enrol a TOTP second factor for a member of staff (replaces any device they had)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="enrol the demo approvers with known secrets (not in production)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model().objects
        if options["demo"]:
            try:
                devices = staff_otp_demo_enrol(users=list(users.filter(username__in=DEMO_TOTP_SECRETS)))
            except RuntimeError as error:
                raise CommandError(str(error)) from error
        elif options["username"]:
            user = users.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no user {options['username']!r}")
            if not user.is_staff:
                raise CommandError(f"{user.get_username()} is not staff")
            devices = [staff_otp_enrol(user=user)]
        else:
            raise CommandError("name a staff username, or --demo")
        for device in devices:
            self.stdout.write(f"{device.user.get_username()}: {device.config_url}")
        if options["demo"]:
            self.stdout.write("Add these URIs to any TOTP app (the secrets are public: demo only).")
