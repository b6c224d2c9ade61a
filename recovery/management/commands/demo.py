"""manage.py demo: the whole auto-return story on a fresh local chain and database, until Ctrl-C."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import sys
import time
import urllib.request
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chains.evm.devnet import Anvil
from recovery.devtools.demo import DemoLogin, demo_seed
from recovery.devtools.demo_chain import (
    DemoChain,
    demo_anvil,
    demo_chain_setup,
    demo_deposits_send,
    port_free,
)
from recovery.devtools.supervisor import Supervisor, broker_description, interrupt, local_service_commands
from recovery.models import RecoveryCase, Refund
from recovery.staff.otp import DEMO_TOTP_SECRETS, staff_otp_demo_enrol

# Set in the re-executed process: its settings already point at the fresh demo folder.
FRESH_FLAG = "RECOVERY_DEMO_FRESH"
# Variables that would point the demo at another database or broker than its own folder.
FOREIGN_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "RECOVERY_VAR_DIR")


def demo_dir() -> Any:
    return settings.BASE_DIR / "var" / "demo"


class Command(BaseCommand):
    help = (
        "Start anvil, seed a fresh SQLite database in var/demo/, run the web server, a worker and beat, "
        "and send wrong deposits that are returned while you watch. Ctrl-C stops everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where the web server listens")
        parser.add_argument("--anvil-port", type=int, default=8545, help="used if free, else any free port")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("the demo never runs in production")
        port = options["addr"].rpartition(":")[2]
        if not port_free(int(port)):
            raise CommandError(f"{options['addr']} is in use: pass --addr 127.0.0.1:<free port>")
        if os.environ.get(FRESH_FLAG) != "1":
            self.restart_on_fresh_folder()
        self.run_story(addr=options["addr"], anvil_port=options["anvil_port"])

    def restart_on_fresh_folder(self) -> None:
        """Every run starts from an empty database, broker and chain: wipe var/demo/ and re-execute there.

        Settings are read at start-up, so the only clean way to point them at the new folder is a new
        process (exec keeps our pid, so the terminal's Ctrl-C still reaches us).
        """
        shutil.rmtree(demo_dir(), ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
        env.update({FRESH_FLAG: "1", "RECOVERY_VAR_DIR": str(demo_dir())})
        # The demo's inbox is a folder (var/demo/mail/), and a new refund address cools off for a minute.
        env.setdefault("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
        env.setdefault("DESTINATION_COOLING_OFF_HOURS", str(1 / 60))
        argv = [sys.executable, str(settings.BASE_DIR / "manage.py"), "demo", *sys.argv[2:]]
        sys.stdout.flush()
        os.execve(sys.executable, argv, env)  # noqa: S606 (argv is a list: no shell involved)

    def run_story(self, *, addr: str, anvil_port: int) -> None:
        # SIGTERM, and SIGINT even if the shell that started us ignored it, unwind like Ctrl-C: anvil and
        # the children are stopped whatever stops us.
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)
        say = self.stdout.write
        say(f"Fresh demo database and broker in {settings.VAR_DIR}")
        call_command("migrate", verbosity=0)
        logins = demo_seed()
        staff = get_user_model().objects.filter(username__in=DEMO_TOTP_SECRETS)
        devices = staff_otp_demo_enrol(users=list(staff))
        with demo_anvil(port=anvil_port) as node:
            chain = demo_chain_setup(node=node)
            say(f"anvil on {node.url} (a block a second), tokens deployed, network 'anvil' scanning")
            env = {**os.environ, "SITE_URL": f"http://{addr}"}
            logs = settings.VAR_DIR / "logs"
            commands = local_service_commands(
                addr=addr, beat_schedule=settings.VAR_DIR / "celerybeat-schedule"
            )
            with Supervisor(cwd=settings.BASE_DIR, env=env) as supervisor:
                for name, argv in commands.items():
                    supervisor.start(name, argv, log=logs / f"{name}.log")
                wait_for_web(f"http://{addr}/login/")
                say(f"\nRecovery service on http://{addr}/  ({broker_description()}; logs in {logs})")
                self.print_logins(logins, devices)
                self.send_deposits(node, chain)
                say(f"\nLog in as alice on http://{addr}/cases/ and as agent on http://{addr}/staff/.")
                say(
                    "The large deposit's case asks alice for a refund address; agent proposes, approver1"
                    f" approves, and the refund goes out (docs/demo.md). E-mails: {settings.EMAIL_FILE_PATH}/"
                )
                say("Ctrl-C stops everything.\n")
                progress = Progress(self.stdout.write)
                reason = supervisor.wait(
                    alive=lambda: node.running, tick=progress.tick, restart=("worker", "beat"), say=say
                )
                if reason != "interrupted":
                    self.stderr.write(f"{reason}; stopping the rest")
                say("Stopping the web server, the worker, beat and anvil ...")
        say("Stopped.")

    def print_logins(self, logins: list[DemoLogin], devices: list[Any]) -> None:
        for login in logins:
            self.stdout.write(f"  {login.role:<15} {login.username:<10} {login.password}")
        self.stdout.write("Approvers' second factor (TOTP; demo secrets, public):")
        for device in devices:
            secret = base64.b32encode(bytes.fromhex(device.key)).decode()
            self.stdout.write(f"  {device.user.get_username():<10} secret {secret}  {device.config_url}")

    def send_deposits(self, node: Anvil, chain: DemoChain) -> None:
        self.stdout.write("\nWrong deposits to alice's deposit addresses:")
        for deposit in demo_deposits_send(node=node, chain=chain):
            self.stdout.write(f"  {deposit.label:<48} {deposit.txid}  expect {deposit.expect}")


def wait_for_web(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local URL)
                return
        except OSError:
            time.sleep(0.3)
    raise CommandError(f"the web server did not answer on {url} within {timeout:.0f}s")


class Progress:
    """Prints the cases and refunds by state whenever they change (checked every few seconds)."""

    def __init__(self, write: Any, every: float = 3.0) -> None:
        self.write, self.every = write, every
        self.last_check = 0.0
        self.last_line = ""

    def tick(self) -> None:
        if time.monotonic() - self.last_check < self.every:
            return
        self.last_check = time.monotonic()
        cases = Counter(RecoveryCase.objects.values_list("state", flat=True))
        refunds = Counter(Refund.objects.values_list("state", flat=True))
        line = "cases: {}; refunds: {}".format(
            ", ".join(f"{n} {state}" for state, n in sorted(cases.items())) or "none yet",
            ", ".join(f"{n} {state}" for state, n in sorted(refunds.items())) or "none yet",
        )
        if line != self.last_line:
            self.write(f"  [{time.strftime('%H:%M:%S')}] {line}")
            self.last_line = line
