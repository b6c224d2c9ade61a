"""Journey fixtures: the whole system running, and the people and chain that use it.

One system serves a journey module: the module's world (`WORLD = ...`: by default anvil mining a block a
second with the demo's world seeded into the test database; tests/journeys/bitcoin_node.py has the Bitcoin
one), and the web server, a worker on every queue and beat, each a real process on the real broker, with
the settings the module asks for (`SYSTEM_SETTINGS = {...}`). The journeys of a module share it and reset
nothing between them: each uses a new depositor wallet and a new refund address, and finds its own case by
its transaction. At the end of the module the processes and the node stop and the database is flushed, as
after any transactional test, so other modules (and the rest of the suite) start empty.

Reading the database is only for waiting ("the scanner has opened a case for this transaction") and for
finding the case reference a person would have from an e-mail; every step is a person or a chain acting.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections

from recovery.deposits.watched import forget_watched
from recovery.models import RecoveryCase
from recovery.onchain.registry import forget_chains
from recovery.staff.otp import DEMO_TOTP_SECRETS
from tests.journeys.chain import evm_world
from tests.journeys.inbox import Inbox
from tests.journeys.people import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Authenticator, Staff, User
from tests.journeys.system import PASSWORDS, Processes, WorldSetup, require
from tests.processes import BROKER_URL, require_service, wait_for


def playwright_installed() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Journeys:
    """The running system and what stays between journeys: the world, the browser, staff sessions."""

    world: Any  # the module's world: tests.journeys.chain.World, tests.journeys.bitcoin_node.BitcoinWorld
    processes: Processes
    browser: Any
    inbox: Inbox
    chain: Any  # the chain as people use it: tests.journeys.chain.Chain, bitcoin_node.MiningNode
    authenticator: Authenticator
    staff_sessions: dict[str, Staff] = field(default_factory=dict)
    people: list[Any] = field(default_factory=list)  # everyone who opened a page in the current test

    def user(self, username: str) -> User:
        context = self.browser.new_context(viewport=VIEWPORT)
        person = User(context, self.processes.url, self.inbox, username)
        self.people.append(person)
        return person.log_in(PASSWORDS[username])

    def staff(self, username: str) -> Staff:
        """A member of staff, logged in (with the second factor for approvers) once per run."""
        person = self.staff_sessions.get(username)
        if person is None:
            context = self.browser.new_context(viewport=VIEWPORT)
            person = Staff(context, self.processes.url, username)
            person.log_in(PASSWORDS[username], self.authenticator)
            self.staff_sessions[username] = person
        self.people.append(person)
        return person


@pytest.fixture(scope="module")
def system(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Journeys]:
    """The running system for one journey module: its WORLD, its SYSTEM_SETTINGS on top of the journeys'
    own and the world's."""
    require_service(BROKER_URL)
    require(f"{CHROMIUM} (apt-get install chromium)", shutil.which(CHROMIUM) is not None)
    require("the playwright pip package", playwright_installed())
    from playwright.sync_api import sync_playwright

    world_setup: WorldSetup = getattr(request.module, "WORLD", evm_world)
    # Playwright's sync API runs an event loop in this thread; the ORM reads between browser steps are
    # plain synchronous calls, so Django's async guard does not apply to them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    workdir = tmp_path_factory.mktemp("journeys")
    mail = workdir / "mail"
    mail.mkdir()
    processes = Processes(workdir=workdir, mail_dir=mail)
    with django_db_blocker.unblock():
        try:
            with world_setup() as seeded, sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    processes.start({**seeded.settings, **getattr(request.module, "SYSTEM_SETTINGS", {})})
                    yield Journeys(
                        world=seeded.world,
                        processes=processes,
                        browser=browser,
                        inbox=Inbox(mail),
                        chain=seeded.chain,
                        authenticator=Authenticator(DEMO_TOTP_SECRETS),
                    )
                finally:
                    browser.close()
                    # Inside Playwright's context Django holds a connection of its own: close it here.
                    connections.close_all()
                    processes.stop()  # before the world's node stops
        finally:
            sessions_gone()
            forget_chains()
            forget_watched()
            # As after a transactional test: the next tests start from an empty database.
            call_command("flush", interactive=False, verbosity=0)
            connections.close_all()
            if previous is None:
                os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            else:
                os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


def sessions_gone(timeout: float = 15.0) -> None:
    """Wait for the stopped processes' database sessions to end (else the test database cannot be dropped)."""
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    with connection.cursor() as cursor:

        def alone() -> bool:
            cursor.execute(others)
            return cursor.fetchone()[0] == 0

        wait_for(alone, timeout=timeout, interval=0.2)


@pytest.fixture
def journey(system: Journeys) -> Iterator[Journeys]:
    """One journey on the running system: checks the processes are up; closes the users' browsers after."""
    system.processes.check_alive()
    system.people = []
    yield system
    for person in system.people:
        if person not in system.staff_sessions.values():
            person.context.close()
    system.people = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failure, keep what the people saw (screenshots) and the end of each process's log."""
    report = yield
    journeys = item.funcargs.get("journey") if hasattr(item, "funcargs") else None
    if report.failed and report.when == "call" and journeys is not None:
        folder = ARTIFACTS / item.name
        folder.mkdir(parents=True, exist_ok=True)
        for number, person in enumerate(journeys.people):
            name = getattr(person, "username", "person")
            with contextlib.suppress(Exception):  # a closed page has nothing to show
                person.page.screenshot(path=str(folder / f"{number}-{name}.png"), full_page=True)
        for log, tail in journeys.processes.log_tails().items():
            report.sections.append((f"{log} (last lines)", tail))
        report.sections.append(("journey artifacts", str(folder)))
    return report


# --- what journeys use ------------------------------------------------------------------------------


@pytest.fixture
def chain(journey: Journeys) -> Any:
    return journey.chain


@pytest.fixture
def inbox(journey: Journeys) -> Inbox:
    return journey.inbox


@pytest.fixture
def people(journey: Journeys) -> Journeys:
    return journey


@pytest.fixture
def world(journey: Journeys) -> Any:
    return journey.world


class Records:
    """The database, read only: to wait for the processes, and for the case reference alice would have from
    the e-mail that tells her about the case (she then opens it from her list of cases)."""

    def case_for(self, txid: str, *, timeout: float = 60.0) -> RecoveryCase:
        """The case of a transaction, once the scanner (or a filing) has opened it."""
        found: list[RecoveryCase] = []

        def opened() -> bool:
            found[:] = RecoveryCase.objects.filter(txid__iexact=txid).order_by("pk")[:1]
            return bool(found) and found[0].state not in ("submitted", "verifying")

        assert wait_for(opened, timeout=timeout, interval=0.5), f"no case for {txid} within {timeout}s"
        return found[0]


@pytest.fixture
def records(journey: Journeys) -> Records:
    return Records()
