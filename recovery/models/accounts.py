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

    def __str__(self) -> str:
        return f"{self.user} ({self.account_ref})"
