"""How often a person may try: the client IP both limits key on, and when a login lockout ends.

Password logins are counted by django-axes (settings: AXES_*); docs/throttling.md has the numbers.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off, get_failure_limit
from django.conf import settings
from django.http import HttpRequest


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
