"""The page every login (user, staff, admin) answers with while django-axes locks the person out."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from recovery.accounts.throttling import login_locked_until


def lockout_page(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: 429, how long, until when, and what to do."""
    staff = request.path.startswith((reverse("staff-queue"), reverse("admin:index")))
    context = {
        "staff": staff,
        "login_url": request.path,
        "locked_until": login_locked_until(request, credentials),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cool_off_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
