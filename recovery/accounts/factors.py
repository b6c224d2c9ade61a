"""The second factor's life cycle: adding and removing an authenticator, and recovery codes.

Adding one needs the factor the user already has (their authenticator, else a code we e-mail), so a
stolen session alone cannot add its own. Removing one needs a code from an authenticator on the account,
or a recovery code, or the password with an e-mailed code (a lost phone). Every change is e-mailed to
the user and written to the audit log, and a new authenticator cools off before it can confirm a
destination (second_factor.has_totp).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.accounts.errors import UserError
from recovery.accounts.second_factor import (
    SecondFactorError,
    email_code_check,
    email_code_send,
    second_factor_verify,
)
from recovery.audit.events import event_record
from recovery.audit.roles import Actor
from recovery.models import UserProfile

FACTOR_PURPOSE = "second_factor_change"
RECOVERY_DEVICE = "recovery codes"
RECOVERY_CODES = 10


def factor_code_send(*, user: Any, client_ip: str | None) -> None:
    """E-mail a code that authorises one change of the second factor."""
    email_code_send(user=user, purpose=FACTOR_PURPOSE, client_ip=client_ip)


def totp_enrolment_start(*, user: Any, otp_code: str) -> TOTPDevice:
    """A new, unconfirmed authenticator, once the user proved the factor they already have. A refused
    attempt is audited too (a stolen session trying to add its own authenticator)."""
    try:
        second_factor_verify(user=user, code=otp_code, purpose=FACTOR_PURPOSE)
    except SecondFactorError:
        _audit(user, "second_factor_change_refused", step="add")
        raise
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
        _audit(user, "second_factor_enrolment_started", device=device.pk)
    return device


@transaction.atomic
def totp_enrolment_confirm(*, user: Any, device_id: int | None, code: str) -> list[str]:
    """Confirm the authenticator being added with a first code from it; returns new recovery codes."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, pk=device_id, confirmed=False).first()
    if device is None:
        raise UserError("no_device", "Start adding the authenticator again: first confirm it is you.")
    if not device.verify_token((code or "").strip()):
        raise SecondFactorError("That code does not match: check the time on your phone and try again.")
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(pk=device.pk).update(created_at=timezone.now())  # its cooling-off starts now
    codes = recovery_codes_issue(user=user)
    usable = timezone.localtime(timezone.now() + settings.FACTOR_COOLING_OFF)
    _notify(
        user,
        "An authenticator was added to your account",
        f"An authenticator app was added to your account. It can confirm refund destinations from "
        f"{usable:%Y-%m-%d %H:%M}. If this was not you, remove it on the Security page with the password "
        "and an e-mailed code, change your password, and contact support.",
    )
    _audit(user, "second_factor_added", device=device.pk, usable_from=usable.isoformat())
    return codes


def recovery_codes_issue(*, user: Any) -> list[str]:
    """Ten new single-use recovery codes (earlier ones stop working); shown to the user once."""
    StaticDevice.objects.filter(user=user, name=RECOVERY_DEVICE).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def totp_device_remove(*, user: Any, device_id: int | None, code: str, password: str = "") -> None:
    """Remove an authenticator: with a code from one on the account or a recovery code, or (a lost
    phone) the password and a code we e-mailed. A refused attempt is audited."""
    if not TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=True).exists():
        raise UserError("no_device", "That authenticator is not on your account.")
    code = (code or "").strip().replace(" ", "")
    if not _removal_allowed(user, code, password):
        _audit(user, "second_factor_change_refused", step="remove", device=device_id)
        raise SecondFactorError(
            "Enter a code from your authenticator or a recovery code; without them, your password and the "
            "code we e-mail you."
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, pk=device_id, confirmed=True).delete()
    _notify(
        user,
        "An authenticator was removed from your account",
        "An authenticator app was removed from your account. If this was not you, change your password "
        "and contact support at once.",
    )
    _audit(user, "second_factor_removed", device=device_id, with_password=bool(password))


def _removal_allowed(user: Any, code: str, password: str) -> bool:
    if not code:
        return False
    if password:
        return user.check_password(password) and email_code_check(
            user=user, code=code, purpose=FACTOR_PURPOSE
        )
    devices = [*TOTPDevice.objects.filter(user=user, confirmed=True), *StaticDevice.objects.filter(user=user)]
    return any(device.verify_token(code) for device in devices)


def _notify(user: Any, subject: str, text: str) -> None:
    if not user.email:
        return
    profile = UserProfile.objects.filter(user=user).first()
    anti_phishing = f"Your anti-phishing code: {profile.anti_phishing_code}\n\n" if profile else ""
    send_mail(subject, anti_phishing + text, settings.DEFAULT_FROM_EMAIL, [user.email])


def _audit(user: Any, kind: str, **data: Any) -> None:
    event_record(case=None, kind=kind, actor=Actor.case_owner(user), data={"user": user.pk, **data})
