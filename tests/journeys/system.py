"""The running system of the journey tests: the people it knows, and the web, worker and beat processes.

Every journey module runs on one world: a chain node and what the exchange knows of it, seeded by a world
function that the module names (`WORLD = ...`; the EVM world of tests/journeys/chain.py by default, the
Bitcoin world of tests/journeys/bitcoin_node.py). Each world starts from the demo's people (`demo_seed`, the
demo approvers' TOTP devices). The processes are the demo's own command lines
(`recovery.devtools.supervisor.local_service_commands`: runserver, one worker on every queue, beat),
started with the test database, the real broker, a folder as the users' mail server, the settings the
world's chain needs and the settings a journey module asks for. Nothing here moves a case.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import urllib.request
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings, settings
from django.contrib.auth import get_user_model
from django.test import override_settings
from kombu import Connection

from recovery.devtools.demo import DEMO_LOGINS, demo_seed
from recovery.devtools.supervisor import Supervisor, local_service_commands
from recovery.staff.otp import DEMO_TOTP_SECRETS, staff_otp_demo_enrol
from tests.processes import BROKER_URL, REPO, database_url_for_tests

PASSWORDS = {login.username: login.password for login in DEMO_LOGINS}

# What every process of the system runs with, besides the test database, the broker and the mail folder.
SYSTEM_ENV = {
    "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
    "DESTINATION_COOLING_OFF_HOURS": "0",
    "CELERY_TASK_ALWAYS_EAGER": "0",
    "RECOVERY_FAILPOINTS": "",
    "PYTHONUNBUFFERED": "1",
    "LOG_LEVEL": "INFO",
}
# The test process's own variables, not the system's.
TEST_PROCESS_ONLY = ("DJANGO_ALLOW_ASYNC_UNSAFE", "TEST_BROKER_URL", "PYTEST_CURRENT_TEST")


def require(what: str, ok: bool) -> None:
    """Under CI a missing dependency fails the journey; on a laptop without it, the journey skips."""
    if ok:
        return
    message = f"journey tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class Seeded:
    """A chain node serving the journeys, what the exchange knows of it, and what the processes need to
    reach it (settings on top of SYSTEM_ENV)."""

    world: Any  # what exists before any journey: deposit addresses, networks, contracts
    chain: Any  # the chain as people and miners use it
    settings: Mapping[str, str] = field(default_factory=dict)


# A world: starts its node, seeds the database (set-up, not a journey step), stops the node at the end.
WorldSetup = Callable[[], AbstractContextManager[Seeded]]


def people_seed() -> None:
    """The demo's people, as `manage.py demo` seeds them: users, staff of each role, the approvers' TOTP."""
    # The test process hashes passwords with MD5 for speed; the web server checks the default hashers.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        demo_seed()
    approvers = get_user_model().objects.filter(username__in=DEMO_TOTP_SECRETS)
    staff_otp_demo_enrol(users=list(approvers))


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
                # The keys the seeding derived the deposit addresses from are the ones the worker signs with.
                "SIGNER_MNEMONIC": settings.SIGNER_MNEMONIC,
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
