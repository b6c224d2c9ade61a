"""What the recovery service keeps about a user beyond Django's auth user."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models


def new_anti_phishing_code() -> str:
    return secrets.token_hex(3).upper()


class UserProfile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    account_ref = models.CharField(
        max_length=64, unique=True, help_text="The exchange account; deposit addresses carry it as owner_ref."
    )
    anti_phishing_code = models.CharField(max_length=16, default=new_anti_phishing_code)
    whitelist_only = models.BooleanField(
        default=False, help_text="Refunds go only to destinations on the user's withdrawal whitelist."
    )

    def __str__(self) -> str:
        return f"{self.user} ({self.account_ref})"


class UserDestination(models.Model):
    """A refund destination a user confirmed; new ones wait out a cooling-off period before use."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="destinations")
    family = models.CharField(max_length=16)
    address = models.CharField(max_length=100)
    memo = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=80, blank=True)
    whitelisted = models.BooleanField(default=False, help_text="On the user's withdrawal whitelist.")
    confirmed_at = models.DateTimeField()
    usable_after = models.DateTimeField(help_text="End of the cooling-off period.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "family", "address", "memo"], name="user_destination_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.address} of {self.user}"


class EmailCode(models.Model):
    """A one-time code e-mailed as the second factor of users without TOTP. Only its hash is kept."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=40)
    code_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    client_ip = models.GenericIPAddressField(
        null=True, blank=True, help_text="Who asked for it: codes are limited per client IP too."
    )

    class Meta:
        indexes = [models.Index(fields=["client_ip", "created_at"], name="emailcode_ip_created")]

    def __str__(self) -> str:
        return f"code for {self.user} ({self.purpose})"


class OwnershipChallenge(models.Model):
    """A message the user signs with the sending address's key. It binds everything a replay could reuse."""

    case = models.ForeignKey("recovery.RecoveryCase", on_delete=models.CASCADE, related_name="challenges")
    address = models.CharField(max_length=100, help_text="The address that must sign (the sender).")
    destination = models.CharField(max_length=100)
    nonce = models.CharField(max_length=64, unique=True)
    message = models.TextField()
    method = models.CharField(max_length=16, help_text="eip191, bip322 or legacy.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    signature = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"challenge {self.nonce[:8]} for {self.case}"
