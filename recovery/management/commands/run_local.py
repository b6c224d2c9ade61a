"""manage.py run_local: the web server, a Celery worker and beat on the embedded default; Ctrl-C stops all."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from recovery.services.demo import DEMO_LOGINS


class Command(BaseCommand):
    help = "Run the web server, one worker (all queues) and beat as child processes until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args: Any, **options: Any) -> None:
        base = settings.BASE_DIR
        python = sys.executable
        children = {
            "web": [python, "manage.py", "runserver", "--noreload", options["addr"]],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "recovery",
                "worker",
                "-Q",
                "scan,verify,refunds,notify",
                "-c",
                "2",
                "-l",
                "INFO",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "recovery",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(settings.VAR_DIR / "celerybeat-schedule"),
            ],
        }
        processes = {name: subprocess.Popen(cmd, cwd=base) for name, cmd in children.items()}
        broker = (
            "embedded filesystem broker (local use only)" if settings.CELERY_EMBEDDED_BROKER else "broker"
        )
        self.stdout.write(f"\nRecovery service on http://{options['addr']}/  (admin: /admin/), {broker}")
        for login in DEMO_LOGINS:
            self.stdout.write(f"  {login.role:<15} {login.username:<10} {login.password}")
        self.stdout.write("Ctrl-C stops everything.\n")
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            dead = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(dead)} stopped; stopping the rest")
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.terminate()
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
