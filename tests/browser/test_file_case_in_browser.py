"""A real browser (Debian's Chromium via Playwright) files a case end to end against anvil and follows it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.accounts.second_factor import totp_now
from recovery.models import RecoveryCase, State
from tests.api.claims import REFUND_TO
from tests.csp import watch_csp

pytestmark = [pytest.mark.browser, pytest.mark.anvil, pytest.mark.timeout(180)]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}


def require_browser():
    missing = [
        what
        for what, ok in (("chromium", shutil.which(CHROMIUM)), ("playwright", _has_playwright()))
        if not ok
    ]
    if not missing:
        return
    message = f"browser test needs {', '.join(missing)} (apt-get install chromium; pip install playwright)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _has_playwright() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


def test_user_files_an_unsupported_token_deposit_and_follows_it(
    transactional_db, live_server, claim_setup, users
):
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    # The ORM is done before the browser's event loop starts (Django refuses sync queries inside one).
    code = totp_now(TOTPDevice.objects.get(user=users.alice, confirmed=True))
    network_label = claim_setup.network.name
    base = live_server.url

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        refusals = watch_csp(context)
        page = context.new_page()
        page.goto(f"{base}/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "a-strong-pass-123")
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/cases/")

        page.click("text=Report a deposit")
        page.select_option("#id_network", label=network_label)
        page.fill("#id_txid", claim_setup.txid)
        page.fill("#id_amount", "50")
        page.click("text=Look up the transaction")
        page.wait_for_selector("#findings")
        findings = page.inner_text("#findings")
        assert "50 TT" in findings and "your deposit address" in findings
        assert "4.5 TT" in page.inner_text("#fee")
        page.fill("#id_refund_destination", REFUND_TO)
        page.fill("#id_otp_code", code)
        page.check("#id_accept_fee")
        page.screenshot(path=str(ARTIFACTS / "filing-page.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTIFACTS / "filing-page-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})

        page.click("button[value=file]")
        page.wait_for_selector("text=Timeline")
        case_url = page.url
        body = page.inner_text("main")
        assert "Awaiting review" in body and "The transaction checked out on-chain" in body
        page.screenshot(path=str(ARTIFACTS / "case-page.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.reload()
        page.screenshot(path=str(ARTIFACTS / "case-page-phone.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        page.goto(f"{base}/cases/")
        assert page.inner_text("main").count("Awaiting review") == 1
        page.screenshot(path=str(ARTIFACTS / "case-list-phone.png"), full_page=True)
        browser.close()
    assert refusals == [], "the browser refused content under the Content-Security-Policy"

    case = RecoveryCase.objects.get(user=users.alice)
    assert case_url.endswith(f"/cases/{case.reference}/")
    assert case.state == State.AWAITING_REVIEW and case.refund_destination == REFUND_TO
