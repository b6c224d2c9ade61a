"""The API docs (/api/docs/, Swagger UI) load everything from this origin, under the Content-Security-Policy;
the schema and the docs are open locally and staff only in production."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

from tests.csp import watch_csp
from tests.staff.test_browser import require_browser

pytestmark = pytest.mark.django_db
DOCS = ("/api/docs/", "/api/docs/?script=", "/api/schema/")
REFERENCE = re.compile(r'(?:src|href)="([^"]*)"')
CHROMIUM = "/usr/bin/chromium"


def test_the_docs_reference_no_external_url(client):
    page = client.get("/api/docs/").content.decode()
    script = client.get("/api/docs/?script=").content.decode()
    references = REFERENCE.findall(page)
    assert references and all(url.startswith("/") and not url.startswith("//") for url in references)
    assert "://" not in page and "://" not in script  # no CDN, no validator.swagger.io
    for url in references:
        if url.startswith("/static/"):
            assert finders.find(url.removeprefix("/static/")), f"{url} is not a local static file"


def test_the_schema_and_docs_are_open_locally(client):
    assert [client.get(path).status_code for path in DOCS] == [200, 200, 200]


@override_settings(PRODUCTION=True)
def test_in_production_the_schema_and_docs_need_a_staff_login(users):
    anonymous, user, staff = Client(), Client(), Client()
    user.force_login(users.alice)
    staff.force_login(users.agent)
    assert [anonymous.get(path).status_code for path in DOCS] == [403, 403, 403]
    assert [user.get(path).status_code for path in DOCS] == [403, 403, 403]
    assert [staff.get(path).status_code for path in DOCS] == [200, 200, 200]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_from_this_origin_with_nothing_refused(live_server):
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            refusals = watch_csp(context)
            requested: list[str] = []
            context.on("request", lambda request: requested.append(request.url))
            page = context.new_page()
            page.goto(f"{live_server.url}/api/docs/")
            page.wait_for_selector(".swagger-ui .info .title")
            assert "Wrong-deposit recovery API" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector("text=/api/cases/")
        finally:
            browser.close()
    assert refusals == [], "the browser refused content under the Content-Security-Policy"
    outside = [url for url in requested if not url.startswith((live_server.url, "data:"))]
    assert outside == [], "the docs asked another origin"
