"""Staff access: approvers pass a TOTP second factor; staff sessions end sooner than users'."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.models import CaseEvent
from recovery.staff.middleware import STARTED_KEY
from recovery.staff.otp import DEMO_TOTP_SECRETS
from tests.staff.conftest import enrol, totp_code

pytestmark = pytest.mark.django_db


def test_an_approver_must_pass_the_second_factor_before_any_staff_page(users, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's lock-out after a wrong code is not under test here
    device = enrol(users.approver1)
    client = Client()
    client.force_login(users.approver1)

    assert client.get("/staff/").url.startswith("/staff/otp/?next=")
    wrong = f"{(int(totp_code(device.key)) + 1) % 1_000_000:06d}"
    assert client.post("/staff/otp/", {"token": wrong}).status_code == 200  # the form again, with an error
    assert client.get("/staff/").status_code == 302

    assert client.post("/staff/otp/", {"token": totp_code(device.key), "next": "/staff/"}).url == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_an_approver_without_a_device_is_told_how_to_get_one(users):
    client = Client()
    client.force_login(users.approver2)
    page = client.get("/staff/otp/")
    assert "setup_staff_otp approver2" in page.content.decode()


def test_agents_and_auditors_need_no_second_factor(users):
    for user in (users.agent, users.auditor):
        client = Client()
        client.force_login(user)
        assert client.get("/staff/").status_code == 200


def test_a_staff_session_ends_after_the_staff_age_but_a_users_does_not(users, settings):
    settings.STAFF_SESSION_AGE = 600
    staff, customer = Client(), Client()
    staff.force_login(users.agent)
    customer.force_login(users.alice)
    assert staff.get("/staff/").status_code == 200
    assert staff.session.get_expiry_age() == 600  # shorter than SESSION_COOKIE_AGE for the cookie too

    session = staff.session
    session[STARTED_KEY] = time.time() - 601
    session.save()
    expired = staff.get("/staff/")

    assert expired.status_code == 302 and expired.url.startswith("/staff/login/")
    assert "_auth_user_id" not in staff.session
    assert customer.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    assert STARTED_KEY not in customer.session


def test_the_login_page_logs_staff_in(users):
    client = Client()
    response = client.post("/staff/login/", {"username": "agent", "password": "a-strong-pass-123"})
    assert response.status_code == 302 and client.get("/staff/").status_code == 200


def test_the_staff_login_cookie_lives_as_long_as_the_staff_session_not_a_users(users, settings):
    settings.STAFF_SESSION_AGE = 900
    client = Client()
    response = client.post("/staff/login/", {"username": "agent", "password": "a-strong-pass-123"})
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 900
    assert client.session.get_expiry_age() == 900


def test_the_enrolment_command_prints_an_otpauth_uri_and_the_code_then_works(users, capsys):
    call_command("setup_staff_otp", "approver1")
    uri = capsys.readouterr().out.strip()
    device = TOTPDevice.objects.get(user=users.approver1)

    assert uri.startswith("approver1: otpauth://totp/") and "secret=" in uri
    client = Client()
    client.force_login(users.approver1)
    assert client.post("/staff/otp/", {"token": totp_code(device.key)}).status_code == 302
    assert CaseEvent.objects.filter(kind="otp_enrolled", data__user="approver1").exists()


def test_the_demo_enrolment_uses_the_documented_secrets(users, capsys):
    call_command("setup_staff_otp", "--demo")
    keys = dict(TOTPDevice.objects.values_list("user__username", "key"))
    assert keys == {"approver1": DEMO_TOTP_SECRETS["approver1"], "approver2": DEMO_TOTP_SECRETS["approver2"]}
    assert "approver2: otpauth://" in capsys.readouterr().out


def test_all_of_the_admin_sits_behind_the_staff_second_factor(superuser):
    admin, device = superuser
    client = Client()
    client.force_login(admin)

    for page in ("/admin/", "/admin/recovery/recoverycase/", "/admin/auth/user/"):
        response = client.get(page)
        assert response.status_code == 302 and response.url.startswith("/staff/otp/?next="), page
    assert client.get("/admin/login/").status_code in (200, 302)  # the door itself stays open

    client.post("/staff/otp/", {"token": totp_code(device.key), "next": "/admin/"})
    assert client.get("/admin/recovery/recoverycase/").status_code == 200
