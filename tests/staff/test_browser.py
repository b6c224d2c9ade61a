"""The staff side in a real browser (Playwright driving Debian's Chromium) against a live server.

An agent triages and asks the user; an approver proposes and is refused as approver of his own proposal;
two other approvers approve a case above the threshold; an event row is then tampered with in PostgreSQL
and the auditor's page names it. Screenshots go to test-artifacts/ for a human to look at.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, connections

from recovery.audit.roles import Actor
from recovery.cases.workflow import transition
from recovery.models import CaseEvent, Origin, State
from tests.csp import watch_csp
from tests.factories import make_case, make_deposit, make_user
from tests.staff.conftest import enrol, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "a-strong-pass-123"  # tests.factories.make_user's


def require_browser() -> None:
    missing = []
    if shutil.which(CHROMIUM) is None:
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright pip package")
    if missing:
        message = "browser test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def browser(monkeypatch):
    require_browser()
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes are plain
    # synchronous calls between browser steps, so Django's async guard does not apply to them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM calls made inside Playwright's context hold their own connection: close it, or the
            # test database cannot be dropped at the end of the session.
            connections.close_all()


def log_in(browser, base_url: str, user, refusals: list[str]):
    context = browser.new_context(viewport={"width": 1360, "height": 1000})
    watch_csp(context, refusals)
    page = context.new_page()
    page.goto(f"{base_url}/staff/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    if user.has_perm("recovery.approve_case"):
        assert "/staff/otp/" in page.url
        page.fill("#id_token", totp_code(user.totpdevice_set.get().key))
        page.click("button[type=submit]")
    assert page.url.rstrip("/").endswith("/staff"), page.url
    return page


def act(page, form: str) -> str:
    page.click(f"#form-{form} button[type=submit]")
    return page.inner_text(".messages")


def refresh_state(case) -> str:
    case.refresh_from_db()
    return case.state


def tamper(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def test_staff_work_a_case_to_two_approvals_and_the_auditor_sees_a_tampered_event(
    browser, live_server, network, users, settings, capsys
):
    settings.TWO_APPROVER_THRESHOLD_USD_CENTS = 100_000
    approver3 = make_user("approver3", group="approver")
    for approver in (users.approver1, users.approver2, approver3):
        enrol(approver)
    deposit = make_deposit(network, amount=2 * 10**18, tokens=[])
    case = make_case(
        network,
        users.alice,
        deposit=deposit,
        txid=deposit.txid,
        value_usd_cents=250_000,  # $2,500: above the threshold, two approvers
        fee_amount=10**16,
        claim={"token": "PEPE", "amount": "2.0", "wallet": "MetaMask"},
    )
    make_case(network, users.bob, origin=Origin.AUTO, category="nft", state=State.VERIFYING, sla_flag="near")
    make_case(network, users.bob, category="missing_memo", state=State.AWAITING_REVIEW, sla_flag="breached")
    ARTIFACTS.mkdir(exist_ok=True)
    base = live_server.url
    refusals: list[str] = []

    agent = log_in(browser, base, users.agent, refusals)
    agent.screenshot(path=str(ARTIFACTS / "staff-queue.png"), full_page=True)
    agent.click(f"text={case.short_ref}")
    agent.screenshot(path=str(ARTIFACTS / "staff-case.png"), full_page=True)
    assert "chain not reachable" in agent.inner_text("#evidence-chain")

    assert "awaiting review" in act(agent, "triage")
    agent.fill("#question", "Which wallet app did you send from?")
    assert "waiting for your information" in act(agent, "request_info")
    assert refresh_state(case) == State.NEEDS_INFO
    transition(case.pk, State.VERIFYING, actor=Actor.case_owner(users.alice), reason="MetaMask")
    agent.reload()
    assert "awaiting review" in act(agent, "triage")

    proposer = log_in(browser, base, users.approver1, refusals)
    proposer.goto(f"{base}/staff/cases/{case.pk}/")
    assert "awaiting approval" in act(proposer, "propose")
    refused = act(proposer, "approve")
    assert "Refused" in refused and "proposer" in refused

    second = log_in(browser, base, users.approver2, refusals)
    second.goto(f"{base}/staff/cases/{case.pk}/")
    assert "another, distinct approver" in act(second, "approve")
    assert second.inner_text("#approval-count").startswith("1 of 2")
    third = log_in(browser, base, approver3, refusals)
    third.goto(f"{base}/staff/cases/{case.pk}/")
    assert "Approved. The refund is queued" in act(third, "approve")
    third.screenshot(path=str(ARTIFACTS / "staff-case-approved.png"), full_page=True)
    assert refresh_state(case) == State.APPROVED

    kinds = list(CaseEvent.objects.filter(case=case).order_by("seq").values_list("kind", "reason"))
    assert ("refused", "four_eyes") in kinds and kinds[-1] == ("approve", "")
    victim = CaseEvent.objects.get(case=case, kind="propose")
    tamper("UPDATE recovery_caseevent SET actor_label = %s WHERE id = %s", ["approver2 (agent)", victim.pk])

    auditor = log_in(browser, base, users.auditor, refusals)
    auditor.goto(f"{base}/staff/audit/")
    named = f"case:{case.pk} #{victim.seq} (event {victim.pk})"
    assert named in auditor.inner_text("#verification")
    auditor.screenshot(path=str(ARTIFACTS / "staff-audit-broken.png"), full_page=True)
    with pytest.raises(SystemExit):
        call_command("verify_audit_log")
    assert named in capsys.readouterr().out
    assert refusals == [], "the browser refused content under the Content-Security-Policy"
