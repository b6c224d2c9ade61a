"""manage.py run_local: the web server, a Celery worker and beat on the embedded default; Ctrl-C stops all."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from recovery.devtools.demo import DEMO_LOGINS
from recovery.devtools.supervisor import Supervisor, broker_description, local_service_commands


class Command(BaseCommand):
    help = "Run the web server, one worker (all queues) and beat as child processes until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        commands = local_service_commands(
            addr=options["addr"], beat_schedule=settings.VAR_DIR / "celerybeat-schedule"
        )
        with Supervisor(cwd=settings.BASE_DIR) as supervisor:
            for name, argv in commands.items():
                supervisor.start(name, argv)
            self.stdout.write(
                f"\nRecovery service on http://{options['addr']}/  (admin: /admin/), {broker_description()}"
            )
            for login in DEMO_LOGINS:
                self.stdout.write(f"  {login.role:<15} {login.username:<10} {login.password}")
            self.stdout.write("Ctrl-C stops everything.\n")
            reason = supervisor.wait(restart=("worker", "beat"))
            if reason != "interrupted":
                self.stderr.write(f"{reason}; stopping the rest")
