"""The running system of the journey tests: the seeded world, and the web, worker and beat processes.

The world is seeded as `manage.py demo` seeds it (`demo_seed`, `demo_chain_setup`, the demo approvers' TOTP
devices). The processes are the demo's own command lines (`recovery.supervisor.local_service_commands`:
runserver, one worker on every queue, beat), started with the test database, the real broker, a folder as
the users' mail server and the settings a journey module asks for. Nothing here moves a case.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import global_settings, settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from kombu import Connection

from chains.evm.devnet import Anvil, DeployedContract, deploy_contract
from recovery.models import DepositAddress, ListedAsset, Network, UserProfile
from recovery.services.demo import DEMO_LOGINS, demo_seed
from recovery.services.demo_chain import DEMO_NETWORK, demo_chain_setup
from recovery.staff.otp import DEMO_TOTP_SECRETS, staff_otp_demo_enrol
from recovery.supervisor import Supervisor, local_service_commands
from tests.services import BROKER_URL, REPO, database_url_for_tests

PASSWORDS = {login.username: login.password for login in DEMO_LOGINS}
# Set-up beyond the demo's: a token nobody prices (the scanner leaves it alone, a user reports it) and a
# minimum deposit for the listed LUSD (a smaller deposit is "below minimum": a case for an account credit).
UNLISTED_TOKEN = ("TestToken", ("Unlisted Gold", "ULG", 18))
LUSD_MIN_DEPOSIT = 10 * 10**6
# anvil's funded accounts: the first deploys, the others are the wallets people send deposits from.
WALLETS = 40

# What every process of the system runs with, besides the test database, the broker and the mail folder.
SYSTEM_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    "DESTINATION_COOLING_OFF_HOURS": "0",
    "CELERY_TASK_ALWAYS_EAGER": "0",
    "PYTHONUNBUFFERED": "1",
    "LOG_LEVEL": "INFO",
}
# The test process's own variables, not the system's.
TEST_PROCESS_ONLY = ("DJANGO_ALLOW_ASYNC_UNSAFE", "TEST_BROKER_URL", "PYTEST_CURRENT_TEST")


@dataclass(frozen=True)
class World:
    """What exists before any journey: the chain's contracts and the users' deposit addresses."""

    contracts: dict[str, DeployedContract]
    deposit_addresses: dict[str, list[str]]  # username -> addresses, in derivation order
    network_name: str  # as the filing page lists it

    def deposit_address(self, username: str, number: int = 0) -> str:
        addresses = self.deposit_addresses[username]
        return addresses[number % len(addresses)]


def world_seed(node: Anvil) -> World:
    """Seed the database and the chain the way `manage.py demo` does (set-up, not a journey step)."""
    # The test process hashes passwords with MD5 for speed; the web server checks the default hashers.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        demo_seed()
    approvers = get_user_model().objects.filter(username__in=DEMO_TOTP_SECRETS)
    staff_otp_demo_enrol(users=list(approvers))
    contracts = dict(demo_chain_setup(node=node).contracts)
    name, args = UNLISTED_TOKEN
    contracts["unlisted"] = deploy_contract(node, name, args)
    network = Network.objects.get(slug=DEMO_NETWORK)
    ListedAsset.objects.filter(network=network, contract=contracts["listed"].address).update(
        min_deposit=LUSD_MIN_DEPOSIT
    )
    addresses = {
        profile.user.username: list(
            DepositAddress.objects.filter(family="evm", owner_ref=profile.account_ref)
            .order_by("derivation_index")
            .values_list("address", flat=True)
        )
        for profile in UserProfile.objects.select_related("user")
    }
    return World(contracts, addresses, network.name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def broker_purge(url: str, queues: tuple[str, ...]) -> None:
    """Messages an earlier run left on this vhost must not reach the new workers."""
    with Connection(url) as connection:
        for name in queues:
            channel = connection.channel()
            # A queue that does not exist yet has nothing to purge (and the error closes the channel).
            with contextlib.suppress(Exception):
                channel.queue_purge(name)
            with contextlib.suppress(Exception):
                channel.close()


@dataclass
class Processes:
    """The web server, one worker on every queue and beat, each in its own process group."""

    workdir: Path
    mail_dir: Path
    url: str = ""
    supervisor: Supervisor | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    def start(self, overrides: Mapping[str, str]) -> None:
        broker_purge(BROKER_URL, tuple(settings.QUEUE_NAMES))
        for attempt in range(3):  # a free port can be taken between asking for it and binding it
            port = free_port()
            self.url = f"http://127.0.0.1:{port}"
            self.env = {
                **{k: v for k, v in os.environ.items() if k not in TEST_PROCESS_ONLY},
                **SYSTEM_ENV,
                "DATABASE_URL": database_url_for_tests(),
                "CELERY_BROKER_URL": BROKER_URL,
                "EMAIL_FILE_PATH": str(self.mail_dir),
                "SITE_URL": self.url,
                "RECOVERY_VAR_DIR": str(self.workdir / "var"),
                **overrides,
            }
            schedule = self.workdir / f"celerybeat-schedule-{attempt}"
            commands = local_service_commands(addr=f"127.0.0.1:{port}", beat_schedule=schedule)
            self.supervisor = Supervisor(cwd=REPO, env=self.env, stop_timeout=15)
            for name, argv in commands.items():
                self.supervisor.start(name, argv, log=self.logs / f"{name}.log")
            if self.web_answers():
                return
            self.stop()
        raise RuntimeError(f"the web server did not start; see {self.logs}")

    def web_answers(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.supervisor and not self.supervisor.stopped():
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=5):
                    return True
            except OSError:
                time.sleep(0.3)
        return False

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()
            self.supervisor = None

    def check_alive(self) -> None:
        stopped = self.supervisor.stopped() if self.supervisor else ["all"]
        if stopped:
            raise RuntimeError(f"system process(es) stopped: {', '.join(stopped)}; logs in {self.logs}")

    def log_tails(self, lines: int = 40) -> dict[str, str]:
        return {
            path.name: "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            for path in sorted(self.logs.glob("*.log"))
        }
