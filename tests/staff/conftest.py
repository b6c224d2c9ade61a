"""Fixtures of the staff-side tests: logged-in staff clients that passed the second factor for real."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.models import CaseEvent, RecoveryCase

KNOWN_KEY = "3132333435363738393031323334353637383930"  # RFC 6238's test secret, hex


def totp_code(key_hex: str, at: float | None = None) -> str:
    """The current code of a device, computed by django-otp's TOTP (not by the code under test)."""
    totp = TOTP(bytes.fromhex(key_hex), step=30, t0=0, digits=6, drift=0)
    totp.time = at if at is not None else time.time()
    return f"{totp.token():06d}"


def enrol(user, key_hex: str = KNOWN_KEY) -> TOTPDevice:
    TOTPDevice.objects.filter(user=user).delete()
    return TOTPDevice.objects.create(user=user, name="test", key=key_hex, confirmed=True)


@pytest.fixture
def staff_client(db) -> Callable[..., Client]:
    """A client logged in as `user`; approvers enrol a device and pass /staff/otp/ with a real code."""

    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        if user.has_perm("recovery.approve_case"):
            device = enrol(user)
            response = client.post("/staff/otp/", {"token": totp_code(device.key)})
            assert response.status_code == 302, response.content[:500]
        return client

    return login


def events_of(case: RecoveryCase) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case).order_by("seq"))


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


@pytest.fixture
def superuser(users, settings):
    """An administrator (superuser) with an enrolled authenticator, logged in on no client yet."""
    from tests.factories import make_user

    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # django-otp's lock-out after a wrong code is not under test
    admin = make_user("root")
    admin.is_staff = admin.is_superuser = True
    admin.save()
    return admin, enrol(admin)
