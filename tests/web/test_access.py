"""Object-level access: another user's cases, deposits, refunds and messages do not exist for you (404)."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from recovery.models import CaseMessage, Refund, State
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db

PAGE_GETS = ["/cases/{ref}/"]
PAGE_POSTS = [
    "/cases/{ref}/message/",
    "/cases/{ref}/cancel/",
    "/cases/{ref}/destination/",
    "/cases/{ref}/challenge/",
    "/cases/{ref}/proof/",
]
API_GETS = ["/api/cases/{ref}/", "/api/cases/{ref}/messages/"]
API_POSTS = [
    "/api/cases/{ref}/cancel/",
    "/api/cases/{ref}/destination/",
    "/api/cases/{ref}/messages/",
    "/api/cases/{ref}/challenges/",
    "/api/cases/{ref}/proofs/",
]
POST_BODY = {
    "body": "hello",
    "refund_destination": "0x52908400098527886E0F7030069857D2E4169EE7",
    "otp_code": "123456",
    "nonce": "x",
    "signature": "y",
}


@pytest.fixture
def alices_case(network, users):
    deposit = make_deposit(network, sender="0x52908400098527886E0F7030069857D2E4169EE7")
    case = make_case(
        network, users.alice, state=State.NEEDS_INFO, deposit=deposit, claim={"needs_ownership_proof": True}
    )
    CaseMessage.objects.create(case=case, author=users.alice, body="alice's secret note")
    Refund.objects.create(
        case=case,
        deposit=deposit,
        network=network,
        destination=case.refund_destination,
        standard="erc20",
        amount=10,
        sender=deposit.recipient,
    )
    return case


def test_every_page_of_another_users_case_is_404(alices_case, users):
    client = Client()
    client.force_login(users.bob)
    for url in PAGE_GETS:
        assert client.get(url.format(ref=alices_case.reference)).status_code == 404, url
    for url in PAGE_POSTS:
        assert client.post(url.format(ref=alices_case.reference), POST_BODY).status_code == 404, url


def test_every_api_endpoint_on_another_users_case_is_404(alices_case, users):
    client = APIClient()
    client.force_authenticate(users.bob)
    for url in API_GETS:
        response = client.get(url.format(ref=alices_case.reference))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", url
    for url in API_POSTS:
        response = client.post(url.format(ref=alices_case.reference), POST_BODY, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", url


def test_nothing_of_another_user_changed_or_leaked(alices_case, users):
    client = APIClient()
    client.force_authenticate(users.bob)
    listing = client.get("/api/cases/").json()
    assert listing["count"] == 0
    for url in API_POSTS:
        client.post(url.format(ref=alices_case.reference), POST_BODY, format="json")
    alices_case.refresh_from_db()
    assert alices_case.state == State.NEEDS_INFO and alices_case.messages.count() == 1
    assert alices_case.challenges.count() == 0


def test_the_owner_reaches_the_same_urls(alices_case, users):
    client = APIClient()
    client.force_authenticate(users.alice)
    for url in API_GETS:
        assert client.get(url.format(ref=alices_case.reference)).status_code == 200, url
    web = Client()
    web.force_login(users.alice)
    assert web.get(f"/cases/{alices_case.reference}/").status_code == 200


def test_anonymous_users_are_sent_to_log_in_or_refused(alices_case):
    page = Client().get(f"/cases/{alices_case.reference}/")
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    api = APIClient().get("/api/cases/")
    assert api.status_code in (401, 403) and "error" in api.json()


def test_a_malformed_reference_is_404_too(users):
    client = APIClient()
    client.force_authenticate(users.bob)
    assert client.get("/api/cases/not-a-uuid/").status_code == 404


def test_every_page_form_needs_a_csrf_token(alices_case, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.alice)
    posts = [u.format(ref=alices_case.reference) for u in PAGE_POSTS]
    posts += [
        "/cases/new/",
        "/cases/new/confirm/",
        "/security/totp/",
        "/security/totp/start/",
        "/security/totp/remove/",
        "/security/whitelist/",
        "/security/whitelist-only/",
        "/logout/",
    ]
    for url in posts:
        assert client.post(url, POST_BODY).status_code == 403, url
    assert Client(enforce_csrf_checks=True).post("/signup/", {}).status_code == 403
    assert Client(enforce_csrf_checks=True).post("/login/", {}).status_code == 403


def test_session_authenticated_api_writes_need_csrf_too(alices_case, users):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users.alice)
    response = client.post(f"/api/cases/{alices_case.reference}/messages/", {"body": "hi"}, format="json")
    assert response.status_code == 403
