"""People at their browsers: users on the user pages, staff on /staff/, approvers with an authenticator app.

Every step is a page the person opens, a field they fill, a button they press, or an e-mail they read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import Any

from tests.csp import watch_csp
from tests.journeys.inbox import Inbox
from tests.processes import REPO, wait_for

ARTIFACTS = REPO / "test-artifacts" / "journeys"  # what the people saw: on a failure, and at milestones
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT = {"width": 1280, "height": 1000}
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")
CASE_PAGE = re.compile(r"/cases/[0-9a-f-]{36}/$")
STEP_TIMEOUT_MS = 30_000


class Authenticator:
    """The approvers' authenticator app: RFC 6238 codes (30 s steps, 6 digits) from the enrolled secret.

    Like a person, it never types the same code twice: the server refuses a time step already used, so a
    second login within one step waits for the next code.
    """

    def __init__(self, secrets_hex: dict[str, str]) -> None:
        # The app holds the base32 secret of the otpauth:// URI that enrolment printed.
        self.secrets = {
            name: base64.b32encode(bytes.fromhex(key)).decode() for name, key in secrets_hex.items()
        }
        self.used: dict[str, int] = {}

    def code(self, username: str) -> str:
        step = int(time.time() // 30)
        if self.used.get(username, -1) >= step:
            time.sleep((step + 1) * 30 - time.time() + 0.2)
            step = int(time.time() // 30)
        self.used[username] = step
        key = base64.b32decode(self.secrets[username])
        digest = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha1).digest()
        offset = digest[-1] & 0x0F
        value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
        return f"{value % 10**6:06d}"


class Person:
    """A browser context of one person (own cookies), with the page they look at."""

    def __init__(self, context: Any, site: str) -> None:
        self.context = context
        self.site = site
        self.context.set_default_timeout(STEP_TIMEOUT_MS)
        self.csp_refusals = watch_csp(context)
        self.page = context.new_page()

    def go(self, path: str) -> None:
        response = self.page.goto(self.site + path)
        if response is not None and response.status >= 500:
            raise AssertionError(f"the server failed ({response.status}) on {path}: {self.page.title()}")
        self.page_allowed()

    def press(self, selector: str) -> None:
        """Press a button that submits a form and wait for the page the server answers with."""
        with self.page.expect_navigation() as navigation:
            self.page.click(selector)
        response = navigation.value
        if response is not None and response.status >= 500:
            raise AssertionError(f"the server failed ({response.status}): {self.page.title()}")
        self.page_allowed()

    def page_allowed(self) -> None:
        """Nothing on the page was refused under the Content-Security-Policy (it would look or act broken)."""
        if self.csp_refusals:
            raise AssertionError(f"{self.page.url}: the browser refused {self.csp_refusals}")

    def text(self, selector: str = "main") -> str:
        return self.page.inner_text(selector)

    def has(self, selector: str) -> bool:
        return self.page.locator(selector).count() > 0

    def flash(self) -> str:
        """The messages the last action left at the top of the page."""
        return self.text(".messages") if self.has(".messages") else ""

    def flash_ok(self, action: str) -> str:
        """The messages of an action that must have worked (an error message fails the journey)."""
        if self.has(".messages li.error"):
            raise AssertionError(f"{action} was refused: {self.text('.messages li.error')}")
        return self.flash()

    def reload_until(self, condition: Callable[[], bool], *, timeout: float, what: str) -> None:
        def looked() -> bool:
            self.page.reload()
            self.page_allowed()
            return condition()

        if not wait_for(looked, timeout=timeout, interval=1.0):
            raise AssertionError(f"{what} not seen within {timeout:.0f}s; the page says:\n{self.text()}")

    def screenshot(self, name: str) -> None:
        """Keep what the person sees now, for a human to look at (test-artifacts/journeys/<name>.png)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


class User(Person):
    """A user of the exchange on the user pages; reads their own mailbox for confirmation codes."""

    def __init__(self, context: Any, site: str, inbox: Inbox, username: str) -> None:
        super().__init__(context, site)
        self.username = username
        self.email = f"{username}@example.com"
        self.inbox = inbox

    def log_in(self, password: str) -> User:
        self.go("/login/")
        self.page.fill("#id_username", self.username)
        self.page.fill("#id_password", password)
        self.press("button[type=submit]")
        assert self.page.url.endswith("/cases/"), f"login failed: {self.text()}"
        return self

    # --- following a case ---------------------------------------------------------------------

    def open_case(self, short_ref: str) -> None:
        """From the list of their cases, open the one with this reference."""
        self.go("/cases/")
        with self.page.expect_navigation():
            self.page.locator("table.cases").get_by_role("link", name=short_ref).click()
        assert short_ref in self.text("h1")

    def state(self) -> str:
        return self.text("h1 .badge").strip()

    def wait_for_state(self, label: str, *, timeout: float = 60.0) -> None:
        self.reload_until(lambda: self.state() == label, timeout=timeout, what=f"case state {label!r}")

    def next_step(self) -> str:
        return self.text("main .card >> nth=0")

    def asks_for_refund_address(self) -> bool:
        """A notice on the page asks her where the refund should go."""
        notices = self.page.locator("main .warn").all_inner_texts()
        return any("refund address" in notice.lower() for notice in notices)

    def refund_destination(self) -> str:
        """The case's 'Refund to' fact."""
        return self.page.locator("dt:text-is('Refund to') + dd").inner_text()

    def refund_lines(self) -> list[str]:
        """The refund paragraphs of the case page: 'Refund: <state> <transaction hash>'."""
        return [line for line in self.text().splitlines() if line.strip().startswith("Refund:")]

    def refund_hashes(self) -> list[str]:
        return [match.lower() for line in self.refund_lines() for match in TX_HASH.findall(line)]

    # --- acting on a case ---------------------------------------------------------------------

    def confirmation_code_for(self, button: str) -> str:
        """Ask for an e-mailed code (the button) and read it from the mailbox."""
        seen = self.inbox.seen(self.email)
        self.press(button)
        self.flash_ok("asking for a code")
        return self.inbox.latest_code(self.email, besides=seen)

    def set_refund_address(self, address: str) -> str:
        """Fill the case page's destination form, get the e-mailed code, confirm; returns the message."""
        form = 'form[action$="/destination/"]'
        self.page.fill(f"{form} [name=refund_destination]", address)
        code = self.confirmation_code_for(f"{form} button[value=send_code]")
        self.page.fill(f"{form} [name=refund_destination]", address)
        self.page.fill(f"{form} [name=otp_code]", code)
        self.press(f"{form} button[value=change]")
        return self.flash_ok("setting the refund address")

    def write_to_support(self, text: str) -> str:
        form = 'form[action$="/message/"]'
        self.page.fill(f"{form} [name=body]", text)
        self.press(f"{form} button[type=submit]")
        return self.flash_ok("the message to support")

    def cancel_case(self) -> str:
        self.press('form[action$="/cancel/"] button[type=submit]')
        return self.flash_ok("cancelling")

    def file_case(self, *, network: str, txid: str, amount: str, refund_to: str) -> str:
        """Report a deposit: look the transaction up, give a refund address with its code, accept, file."""
        self.look_up_deposit(network=network, txid=txid, amount=amount)
        self.give_refund_address(refund_to)
        return self.file_reported_deposit()

    def look_up_deposit(self, *, network: str, txid: str, amount: str) -> str:
        """The first step of reporting a deposit: the form looks the transaction up; returns its findings."""
        self.go("/cases/")
        with self.page.expect_navigation():
            self.page.click("nav >> text=Report a deposit")
        self.page.select_option("#id_network", label=network)
        self.page.fill("#id_txid", txid)
        self.page.fill("#id_amount", amount)
        self.press("text=Look up the transaction")
        assert self.has("#findings"), f"the lookup was refused: {self.text()}"
        return self.text("#findings")

    def give_refund_address(self, refund_to: str) -> str:
        """On the looked-up report: the refund address and its e-mailed code; returns what the page said
        when she asked for the code."""
        self.page.fill("#id_refund_destination", refund_to)
        code = self.confirmation_code_for("button[value=send_code]")
        said = self.flash()
        self.page.fill("#id_refund_destination", refund_to)
        self.page.fill("#id_otp_code", code)
        return said

    def file_reported_deposit(self) -> str:
        """Accept the fee terms and file the report; returns the new case's reference."""
        self.page.check("#id_accept_fee")
        self.press("button[value=file]")
        assert CASE_PAGE.search(self.page.url), f"not filed: {self.text()}"
        return self.text("h1").split()[1]  # "Case <short ref> <state>"


class Staff(Person):
    """A member of staff on the staff pages (logged in once; the session lasts their shift)."""

    def __init__(self, context: Any, site: str, username: str) -> None:
        super().__init__(context, site)
        self.username = username
        self.second_factor = False  # asked for the authenticator's code at login

    def log_in(self, password: str, authenticator: Authenticator) -> Staff:
        self.go("/staff/login/")
        self.page.fill("#id_username", self.username)
        self.page.fill("#id_password", password)
        self.press("button[type=submit]")
        self.second_factor = "/staff/otp/" in self.page.url
        if self.second_factor:  # approvers: the second factor from their app
            self.page.fill("#id_token", authenticator.code(self.username))
            self.press("button[type=submit]")
        assert self.page.url.rstrip("/").endswith("/staff"), f"staff login failed: {self.text()}"
        return self

    def open_case(self, search: str) -> None:
        """Search the queue (all states) for the transaction (or the case reference) and open its case."""
        self.go(f"/staff/?state=all&q={search}")
        with self.page.expect_navigation():
            self.page.locator("#queue-table tbody a").first.click()

    def state(self) -> str:
        return self.text("#case-state").strip()

    def waiting_for(self) -> str:
        return self.text("#case-waiting") if self.has("#case-waiting") else ""

    def approvals(self) -> str:
        return self.text("#approvals")

    def wait_for_state(self, label: str, *, timeout: float = 30.0) -> None:
        self.reload_until(lambda: self.state() == label, timeout=timeout, what=f"staff page state {label!r}")

    def act(self, action: str, **fields: str) -> str:
        """Fill the action's form on the case page and submit it; returns the message the page shows (a
        refusal fails the journey)."""
        form = f"#form-{action}"
        assert self.has(form), f"no {action!r} form on the staff case page:\n{self.text()}"
        for name, value in fields.items():
            target = f"{form} [name={name}]"
            if self.page.locator(target).evaluate("e => e.tagName") == "SELECT":
                self.page.select_option(target, value)
            else:
                self.page.fill(target, value)
        self.press(f"{form} button[type=submit]")
        return self.flash_ok(f"{self.username}'s {action!r}")

    def proposal_amount(self) -> int:
        """The amount the propose form offers (the deposit net of the quoted fee)."""
        return int(self.page.input_value("#form-propose [name=refund_amount]"))
