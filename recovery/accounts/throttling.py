"""How often a person may try: the client IP the limits key on, when a login lockout ends, and how many
one-time codes may be e-mailed.

Password logins are counted by django-axes (settings: AXES_*), e-mailed codes by their EmailCode rows
(EMAIL_CODES_*); docs/throttling.md has the numbers.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest

from recovery.accounts.errors import UserError
from recovery.models import EmailCode


def client_ip(request: HttpRequest) -> str | None:
    """The client's IP: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry the outermost one
    appended to X-Forwarded-For (entries further left are whatever the client chose to send)."""
    address = request.META.get("REMOTE_ADDR")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= hops:
            address = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None


def login_locked_until(request: HttpRequest, credentials: dict[str, Any] | None) -> datetime | None:
    """When the lockout refusing this login ends, if nothing else fails meanwhile.

    Per locking key (this username, this IP) the failures are counted newest first; the lockout lifts when
    the attempt that brought the count to the limit is older than the cool-off.
    """
    limit = get_failure_limit(request, credentials)
    cool_off = get_cool_off(request)
    ends = []
    for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
        counted = 0
        newest_first = attempts.order_by("-attempt_time")
        for failures, at in newest_first.values_list("failures_since_start", "attempt_time"):
            counted += failures
            if counted >= limit:
                ends.append(at + cool_off)
                break
    return max(ends, default=None)


class TooManyCodes(UserError):
    """Another e-mailed code was refused; `retry_after` is how many seconds until one may be sent."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__("too_many_codes", message, "otp_code", status=429)
        self.retry_after = retry_after


def email_code_allowance_check(*, user: Any, client_ip: str | None, now: datetime) -> None:
    """Refuse another code when the account, or the client IP, had its share in the last window.

    The caller holds the user's row lock, so one account's parallel requests are counted one after the
    other; requests from one IP for different accounts are not serialized and may pass the IP's limit by
    the few that race.
    """
    window = settings.EMAIL_CODE_WINDOW
    recent = EmailCode.objects.filter(created_at__gt=now - window).order_by("-created_at")
    limits = [(recent.filter(user=user), settings.EMAIL_CODES_PER_ACCOUNT, "You have")]
    if client_ip:
        limits.append((recent.filter(client_ip=client_ip), settings.EMAIL_CODES_PER_IP, "Your network has"))
    for rows, limit, who in limits:
        # Another code may go once the limit-th newest one has left the window.
        oldest_counted = list(rows.values_list("created_at", flat=True)[limit - 1 : limit])
        if not oldest_counted:
            continue
        free_at = oldest_counted[0] + window
        wait = max(1, math.ceil((free_at - now).total_seconds()))
        raise TooManyCodes(
            f"{who} asked for {count(limit, 'code')} in the last {minutes(window.total_seconds())}. "
            f"You can ask for another at {free_at:%H:%M} UTC (in {minutes(wait)}). A code already e-mailed "
            "still works for 10 minutes after it was sent; an authenticator app (on the Security page) needs "
            "no e-mail.",
            retry_after=wait,
        )


def minutes(seconds: float) -> str:
    return count(math.ceil(seconds / 60), "minute")


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
