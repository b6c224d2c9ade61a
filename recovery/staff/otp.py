"""Second factor for staff: enrolling a TOTP device (django-otp) and the demo's known secrets."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.audit.events import event_record
from recovery.audit.roles import Actor

# Known secrets for the demo approvers only (20 bytes, hex), so a demo can log in with any TOTP app.
DEMO_TOTP_SECRETS: dict[str, str] = {
    "approver1": b"demo-approver1-totp!".hex(),
    "approver2": b"demo-approver2-totp!".hex(),
    "admin": b"demo-admin-totp-key!".hex(),  # /admin/ sits behind the staff second factor too
    "admin2": b"demo-admin2-totp-key".hex(),
}


def staff_needs_second_factor(user: Any) -> bool:
    """Staff who can approve money leaving the exchange log in with a second factor."""
    return bool(user.is_authenticated and user.has_perm("recovery.approve_case"))


@transaction.atomic
def staff_otp_enrol(*, user: Any, secret_hex: str | None = None, enrolled_by: str = "") -> TOTPDevice:
    """Replace the user's TOTP devices with one new confirmed device; the enrolment is audited."""
    TOTPDevice.objects.filter(user=user).delete()
    fields = {"key": secret_hex} if secret_hex else {}
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True, **fields)
    event_record(
        case=None,
        kind="otp_enrolled",
        actor=Actor.system(enrolled_by or "setup_staff_otp"),
        data={"user": user.get_username(), "device": device.persistent_id},
    )
    return device


def staff_otp_demo_enrol(*, users: list[Any]) -> list[TOTPDevice]:
    """Enrol the demo approvers with their known secrets (never in production)."""
    if settings.PRODUCTION:
        raise RuntimeError("known TOTP secrets are for the demo only, never in production")
    return [
        staff_otp_enrol(user=user, secret_hex=DEMO_TOTP_SECRETS[user.get_username()], enrolled_by="demo seed")
        for user in users
        if user.get_username() in DEMO_TOTP_SECRETS
    ]
