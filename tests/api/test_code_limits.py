"""The API's e-mailed codes share the pages' limits and refuse with 429, a clear message and Retry-After."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db.models import F
from rest_framework.test import APIClient

from recovery.models import EmailCode

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 test vector
URL = "/api/second-factor/email-code/"


@pytest.fixture(autouse=True)
def no_rate_left_over():
    cache.clear()  # the DRF `proofs` rate counts in the cache; it is not what these tests are about


def api(user, ip: str = "198.51.100.1") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.force_authenticate(user)
    return client


def ask(client: APIClient, network):
    return client.post(URL, {"network": network.slug, "address": DEST, "memo": ""}, format="json")


def test_past_the_limit_the_api_answers_429_with_when_to_ask_again(users, network, settings):
    alice = api(users.alice)
    assert {ask(alice, network).status_code for _ in range(settings.EMAIL_CODES_PER_ACCOUNT)} == {202}
    free_at = EmailCode.objects.order_by("created_at").first().created_at + settings.EMAIL_CODE_WINDOW

    refused = ask(alice, network)

    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "too_many_codes" and error["field"] == "otp_code"
    assert "You have asked for 5 codes in the last 60 minutes." in error["message"]
    assert f"You can ask for another at {free_at:%H:%M} UTC" in error["message"]
    assert 3500 < int(refused["Retry-After"]) <= 3600
    assert len(mail.outbox) == settings.EMAIL_CODES_PER_ACCOUNT


def test_the_api_and_the_pages_count_the_same_codes(users, network, settings):
    alice = api(users.alice)
    for _ in range(settings.EMAIL_CODES_PER_ACCOUNT - 1):
        ask(alice, network)
    page = APIClient(REMOTE_ADDR="198.51.100.1")
    page.force_login(users.alice)
    page.post("/security/whitelist-only/", {"enabled": "on", "action": "send_code"})

    assert ask(alice, network).status_code == 429


def test_per_ip_across_accounts_and_free_again_after_the_window(users, network, settings):
    settings.EMAIL_CODES_PER_IP = 2
    assert ask(api(users.alice, "203.0.113.7"), network).status_code == 202
    assert ask(api(users.bob, "203.0.113.7"), network).status_code == 202

    refused = ask(api(users.agent, "203.0.113.7"), network)
    assert refused.status_code == 429
    assert "Your network has asked for 2 codes" in refused.json()["error"]["message"]

    EmailCode.objects.update(created_at=F("created_at") - settings.EMAIL_CODE_WINDOW - timedelta(seconds=1))
    assert ask(api(users.agent, "203.0.113.7"), network).status_code == 202
