"""The second factor's life cycle on the Security page: a stolen session cannot add its own authenticator;
adding and removing one needs the existing factor, is e-mailed and audited; a new one cools off."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.accounts.second_factor import has_totp, totp_now
from recovery.models import CaseEvent
from tests.factories import make_authenticator

pytestmark = pytest.mark.django_db


def emailed_code() -> str:
    return re.search(r"confirmation code is (\d{6})\.", mail.outbox[-1].body).group(1)


def add_authenticator(client: Client, code: str) -> TOTPDevice:
    client.post("/security/totp/start/", {"otp_code": code, "action": "start"})
    device = TOTPDevice.objects.get(confirmed=False)
    client.post("/security/totp/", {"code": totp_now(device)})
    return TOTPDevice.objects.get(pk=device.pk)


def test_a_session_alone_sees_no_secret_and_cannot_add_an_authenticator(alice, users):
    page = alice.get("/security/?setup=1").content.decode()
    assert "otpauth://" not in page  # the old way in: the secret shown to whoever holds the session

    response = alice.post("/security/totp/start/", {"otp_code": "123456", "action": "start"})

    assert response.status_code == 302 and "otpauth://" not in alice.get("/security/").content.decode()
    assert not TOTPDevice.objects.filter(user=users.alice).exists()
    refused = CaseEvent.objects.get(chain="system", kind="second_factor_change_refused")
    assert refused.actor == users.alice and refused.data["step"] == "add"
    assert alice.post("/security/totp/", {"code": "123456"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=users.alice, confirmed=True).exists()


def test_adding_an_authenticator_needs_the_emailed_code_and_is_mailed_audited_and_cools_off(alice, users):
    alice.post("/security/totp/start/", {"action": "send_code"})
    alice.post("/security/totp/start/", {"otp_code": emailed_code(), "action": "start"})
    device = TOTPDevice.objects.get(user=users.alice, confirmed=False)
    page = alice.get("/security/").content.decode()
    assert "otpauth://" in page

    alice.post("/security/totp/", {"code": totp_now(device)})

    device.refresh_from_db()
    assert device.confirmed
    page = alice.get("/security/").content.decode()
    assert "Your recovery codes." in page and "Confirms destinations from" in page
    assert "Your recovery codes." not in alice.get("/security/").content.decode()  # shown once
    assert mail.outbox[-1].subject == "An authenticator was added to your account"
    assert CaseEvent.objects.filter(chain="system", kind="second_factor_added", actor=users.alice).exists()
    assert not has_totp(users.alice)  # cooling off: destinations still need the e-mailed code
    TOTPDevice.objects.filter(pk=device.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert has_totp(users.alice)


def test_a_cooling_off_authenticator_cannot_confirm_a_destination_but_an_emailed_code_can(network, users):
    from recovery.accounts.errors import UserError
    from recovery.cases.user_actions import destination_change
    from recovery.models import State
    from tests.api.test_destinations import DEST, send_and_read_code
    from tests.factories import make_case

    device = make_authenticator(users.alice, days_ago=0)
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    with pytest.raises(UserError, match="confirms destinations from"):
        destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=totp_now(device))
    code = send_and_read_code(users.alice, network, DEST)
    destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)


def test_removing_an_authenticator_needs_its_code_or_a_recovery_code(alice, users, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's delay after a wrong code is not under test
    device = make_authenticator(users.alice)
    refused = alice.post("/security/totp/remove/", {"device": device.pk, "otp_code": "000000"})
    assert refused.status_code == 302 and TOTPDevice.objects.filter(pk=device.pk).exists()
    assert CaseEvent.objects.filter(kind="second_factor_change_refused", data__step="remove").exists()

    alice.post("/security/totp/remove/", {"device": device.pk, "otp_code": totp_now(device)})

    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert mail.outbox[-1].subject == "An authenticator was removed from your account"
    assert CaseEvent.objects.filter(chain="system", kind="second_factor_removed", actor=users.alice).exists()


def test_a_recovery_code_removes_a_lost_authenticator_once(alice, users):
    old = make_authenticator(users.alice)
    alice.post("/security/totp/start/", {"otp_code": totp_now(old), "action": "start"})
    new = TOTPDevice.objects.get(user=users.alice, confirmed=False)
    alice.post("/security/totp/", {"code": totp_now(new)})
    page = alice.get("/security/").content.decode()
    shown = re.search(r"Your recovery codes\..*?<p class=\"mono\">(.*?)</p>", page, re.S).group(1)
    codes = shown.split(" &middot; ")
    assert len(codes) == 10

    alice.post("/security/totp/remove/", {"device": old.pk, "otp_code": codes[0]})
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    alice.post("/security/totp/remove/", {"device": new.pk, "otp_code": codes[0]})  # used up
    assert TOTPDevice.objects.filter(pk=new.pk).exists()


def test_a_lost_phone_is_removed_with_the_password_and_an_emailed_code(alice, users):
    device = make_authenticator(users.alice)
    alice.post("/security/totp/remove/", {"device": device.pk, "action": "send_code"})
    code = emailed_code()
    wrong = {"device": device.pk, "otp_code": code, "password": "not-the-password", "action": "remove"}
    alice.post("/security/totp/remove/", wrong)
    assert TOTPDevice.objects.filter(pk=device.pk).exists()

    alice.post("/security/totp/remove/", {**wrong, "password": "a-strong-pass-123"})

    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
