"""Journey fixtures: the whole system running, and the people and chain that use it.

One system serves a journey module: anvil mining a block a second, the demo's world seeded into the test
database, and the web server, a worker on every queue and beat, each a real process on the real broker,
with the settings the module asks for (`SYSTEM_SETTINGS = {...}`). The journeys of a module share it and
reset nothing between them: each uses a new depositor wallet and a new refund address, and finds its own
case by its transaction. At the end of the module the processes and anvil stop and the database is
flushed, as after any transactional test, so other modules (and the rest of the suite) start empty.

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

from chains.evm.devnet import Anvil, anvil_available
from recovery.chain_registry import forget_chains
from recovery.models import RecoveryCase
from recovery.services.watched import forget_watched
from recovery.staff.otp import DEMO_TOTP_SECRETS
from tests.journeys.chain import Chain
from tests.journeys.inbox import Inbox
from tests.journeys.people import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, Authenticator, Staff, User, wait_until
from tests.journeys.system import PASSWORDS, WALLETS, Processes, World, world_seed
from tests.services import BROKER_URL, REPO, require_service

ARTIFACTS = REPO / "test-artifacts" / "journeys"


def require(what: str, ok: bool) -> None:
    if ok:
        return
    message = f"journey tests need {what}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def playwright_installed() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Journeys:
    """The running system and what stays between journeys: the world, the browser, staff sessions."""

    world: World
    processes: Processes
    browser: Any
    inbox: Inbox
    chain: Chain
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
    """The running system for one journey module (its SYSTEM_SETTINGS on top of the journeys' own)."""
    require_service(BROKER_URL)
    require("the anvil binary (npm install)", anvil_available())
    require(f"{CHROMIUM} (apt-get install chromium)", shutil.which(CHROMIUM) is not None)
    require("the playwright pip package", playwright_installed())
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM reads between browser steps are
    # plain synchronous calls, so Django's async guard does not apply to them.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    workdir = tmp_path_factory.mktemp("journeys")
    mail = workdir / "mail"
    mail.mkdir()
    processes = Processes(workdir=workdir, mail_dir=mail)
    with django_db_blocker.unblock():
        node = Anvil(chain_id=31337, port=0, block_time=1, accounts=WALLETS).start()
        try:
            world = world_seed(node)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    processes.start(dict(getattr(request.module, "SYSTEM_SETTINGS", {})))
                    yield Journeys(
                        world=world,
                        processes=processes,
                        browser=browser,
                        inbox=Inbox(mail),
                        chain=Chain(node, world.contracts),
                        authenticator=Authenticator(DEMO_TOTP_SECRETS),
                    )
                finally:
                    browser.close()
                    # Inside Playwright's context Django holds a connection of its own: close it here.
                    connections.close_all()
        finally:
            processes.stop()
            node.stop()
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

        wait_until(alone, timeout=timeout, interval=0.2)


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
def chain(journey: Journeys) -> Chain:
    return journey.chain


@pytest.fixture
def inbox(journey: Journeys) -> Inbox:
    return journey.inbox


@pytest.fixture
def people(journey: Journeys) -> Journeys:
    return journey


@pytest.fixture
def world(journey: Journeys) -> World:
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

        assert wait_until(opened, timeout=timeout, interval=0.5), f"no case for {txid} within {timeout}s"
        return found[0]


@pytest.fixture
def records(journey: Journeys) -> Records:
    return Records()
