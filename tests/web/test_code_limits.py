"""E-mailed codes on the pages are limited per account and per client IP, and the page says until when."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.db.models import F
from django.test import Client

from recovery.models import EmailCode
from tests.factories import make_case, make_user

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 test vector


def signed_in(user, ip: str = "198.51.100.1") -> Client:
    client = Client(REMOTE_ADDR=ip)
    client.force_login(user)
    return client


def whitelist_code(client: Client, network) -> str:
    """Press "E-mail me a code" on the security page's whitelist form; the page's message after it."""
    form = {"network": network.pk, "address": DEST, "memo": "", "label": "", "action": "send_code"}
    return flash(client.post("/security/whitelist/", form, follow=True))


def flash(page) -> str:
    return " ".join(str(message) for message in page.context["messages"])


def age_codes(by: timedelta) -> None:
    EmailCode.objects.update(created_at=F("created_at") - by)


def test_the_sixth_code_in_an_hour_is_refused_and_the_page_says_when_to_ask_again(users, network, settings):
    alice = signed_in(users.alice)
    for _ in range(settings.EMAIL_CODES_PER_ACCOUNT):
        assert "We e-mailed you a code" in whitelist_code(alice, network)
    first = EmailCode.objects.order_by("created_at").first().created_at

    refused = whitelist_code(alice, network)

    assert len(mail.outbox) == settings.EMAIL_CODES_PER_ACCOUNT  # nothing more was sent
    assert "You have asked for 5 codes in the last 60 minutes." in refused
    assert f"You can ask for another at {first + settings.EMAIL_CODE_WINDOW:%H:%M} UTC" in refused
    assert "an authenticator app (on the Security page) needs no e-mail" in refused


def test_every_code_action_shares_one_allowance(users, network, settings):
    alice = signed_in(users.alice)
    case = make_case(network, users.alice)
    for _ in range(settings.EMAIL_CODES_PER_ACCOUNT - 1):
        whitelist_code(alice, network)
    only = alice.post("/security/whitelist-only/", {"enabled": "on", "action": "send_code"}, follow=True)
    assert "We e-mailed you a code" in flash(only)

    page = alice.post(
        f"/cases/{case.reference}/destination/",
        {"refund_destination": DEST, "destination_memo": "", "action": "send_code"},
        follow=True,
    )
    assert "You have asked for 5 codes" in flash(page)
    again = alice.post("/security/whitelist-only/", {"enabled": "on", "action": "send_code"}, follow=True)
    assert "You have asked for 5 codes" in flash(again)
    authenticator = alice.post("/security/totp/start/", {"action": "send_code"}, follow=True)
    assert "You have asked for 5 codes" in flash(authenticator)
    removal = alice.post("/security/totp/remove/", {"device": 1, "action": "send_code"}, follow=True)
    assert "You have asked for 5 codes" in flash(removal)
    assert len(mail.outbox) == settings.EMAIL_CODES_PER_ACCOUNT


def test_codes_may_be_asked_for_again_once_the_oldest_has_left_the_window(users, network, settings):
    alice = signed_in(users.alice)
    for _ in range(settings.EMAIL_CODES_PER_ACCOUNT):
        whitelist_code(alice, network)
    age_codes(settings.EMAIL_CODE_WINDOW - timedelta(minutes=1))
    assert "You have asked for" in whitelist_code(alice, network)  # a minute to go

    age_codes(timedelta(minutes=1, seconds=1))
    assert "We e-mailed you a code" in whitelist_code(alice, network)
    assert len(mail.outbox) == settings.EMAIL_CODES_PER_ACCOUNT + 1


def test_one_ip_asking_for_many_accounts_is_refused_but_others_are_not(users, network, settings):
    settings.EMAIL_CODES_PER_IP = 3
    people = [make_user(f"person{n}") for n in range(3)]
    for person in people:
        assert "We e-mailed you a code" in whitelist_code(signed_in(person, "203.0.113.7"), network)

    refused = whitelist_code(signed_in(users.alice, "203.0.113.7"), network)

    assert "Your network has asked for 3 codes in the last 60 minutes." in refused
    assert "We e-mailed you a code" in whitelist_code(signed_in(users.alice, "203.0.113.8"), network)
    assert len(mail.outbox) == 4
