"""The user's second factor: TOTP through django-otp, or a hashed one-time code sent by e-mail."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.accounts.errors import UserError
from recovery.accounts.throttling import email_code_allowance_check
from recovery.models import EmailCode, UserProfile

EMAIL_CODE_TTL = timedelta(minutes=10)
EMAIL_CODE_MAX_ATTEMPTS = 5


class SecondFactorError(UserError):
    def __init__(self, message: str) -> None:
        super().__init__("second_factor_invalid", message, "otp_code", status=403)


def _mature(devices):
    """Confirmed authenticators past their cooling-off: only these may confirm destinations."""
    return devices.filter(confirmed=True, created_at__lte=timezone.now() - settings.FACTOR_COOLING_OFF)


def has_totp(user: Any) -> bool:
    """The user has an authenticator that confirms destinations now (not one still cooling off)."""
    return _mature(TOTPDevice.objects.filter(user=user)).exists()


def code_hash(purpose: str, code: str) -> str:
    # The purpose is inside the hash: a code sent to confirm one destination cannot confirm another.
    return salted_hmac("recovery.email_code", f"{purpose}|{code}").hexdigest()


@transaction.atomic
def email_code_send(*, user: Any, purpose: str, client_ip: str | None) -> EmailCode:
    """E-mail a fresh 6-digit code for `purpose`; earlier unused codes for it stop working.

    Limited per account and per client IP (`throttling.email_code_allowance_check`): each code allows 5
    tries, so the limit on codes is also the limit on guesses.
    """
    if not user.email:
        raise UserError(
            "no_email", "Your account has no e-mail address: add one, or set up an authenticator."
        )
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)  # one account's sends in turn
    now = timezone.now()
    email_code_allowance_check(user=user, client_ip=client_ip, now=now)
    EmailCode.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(used_at=now)
    code = f"{secrets.randbelow(10**6):06d}"
    row = EmailCode.objects.create(
        user=user,
        purpose=purpose,
        code_hash=code_hash(purpose, code),
        expires_at=now + EMAIL_CODE_TTL,
        client_ip=client_ip,
    )
    profile = UserProfile.objects.filter(user=user).first()
    anti_phishing = f"Your anti-phishing code: {profile.anti_phishing_code}\n\n" if profile else ""
    body = (
        f"{anti_phishing}Your confirmation code is {code}. It expires in 10 minutes.\n\n"
        f"Enter it only on our site, {_what_it_confirms(purpose)}. Support will never ask you for this code. "
        "If you did not ask for it, do not use it and change your password."
    )
    # Sent at once: if the transaction then rolls back, the mailed code matches no row and is useless.
    send_mail("Your confirmation code", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return row


def _what_it_confirms(purpose: str) -> str:
    """What the code is for, said in its mail: a code asked for one thing is not used for another."""
    if purpose == "second_factor_change":
        return "to add or remove an authenticator app on your account"
    if purpose.startswith("whitelist_only:"):
        return "to change whether refunds may go only to whitelisted addresses"
    return "to confirm a refund destination you chose"


def second_factor_verify(*, user: Any, code: str, purpose: str) -> str:
    """Check the user's second factor for `purpose`; returns the method used ('totp' or 'email')."""
    code = (code or "").strip().replace(" ", "")
    if not code:
        raise SecondFactorError("Enter the code from your authenticator app or from the e-mail we sent.")
    devices = list(_mature(TOTPDevice.objects.filter(user=user)))
    if devices:
        if any(device.verify_token(code) for device in devices):
            return "totp"
        raise SecondFactorError("That authenticator code is not valid. Wait for a new code and try again.")
    if email_code_check(user=user, code=code, purpose=purpose):
        return "email"
    cooling = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("created_at").first()
    if cooling is not None:
        usable = timezone.localtime(cooling.created_at + settings.FACTOR_COOLING_OFF)
        raise SecondFactorError(
            f"Your new authenticator confirms destinations from {usable:%Y-%m-%d %H:%M}. Until then, use the "
            "code we e-mail you."
        )
    raise SecondFactorError("That code is not valid or has expired. Ask for a new code by e-mail.")


@transaction.atomic
def email_code_check(*, user: Any, code: str, purpose: str) -> bool:
    row = (
        EmailCode.objects.select_for_update()
        .filter(user=user, purpose=purpose, used_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )
    if row is None:
        return False
    if row.attempts >= EMAIL_CODE_MAX_ATTEMPTS:
        return False
    if not constant_time_compare(row.code_hash, code_hash(purpose, code)):
        row.attempts += 1
        row.save(update_fields=["attempts"])
        return False
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    return True


def totp_now(device: TOTPDevice) -> str:
    """The current code of a device (tests and the demo)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits):0{device.digits}d}"
