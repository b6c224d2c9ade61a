"""Staff sessions: a shorter absolute lifetime than users', and a second factor before approvers act."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from recovery.staff.otp import staff_needs_second_factor

STARTED_KEY = "staff_session_started"
STAFF_PREFIX = "/staff/"
ADMIN_PREFIX = "/admin/"


class StaffSessionMiddleware:
    """Must come after the auth, django-otp and messages middleware (it is appended to MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and user.is_staff and staff_session_expired(request):
            logout(request)
            messages.info(request, "Your staff session expired. Please log in again.")
        if request.path.startswith(STAFF_PREFIX) and request.path not in open_paths():
            refusal = staff_gate(request)
            if refusal is not None:
                return refusal
        if request.path.startswith(ADMIN_PREFIX) and request.path not in admin_open_paths():
            refusal = admin_gate(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)


def open_paths() -> set[str]:
    return {reverse("staff-login"), reverse("staff-logout"), reverse("staff-otp")}


def staff_session_expired(request: HttpRequest) -> bool:
    """An absolute lifetime from the first staff request of the session (not extended by activity)."""
    now = time.time()
    started = request.session.get(STARTED_KEY)
    if started is None:
        request.session[STARTED_KEY] = now
        request.session.set_expiry(settings.STAFF_SESSION_AGE)
        return False
    return now - float(started) > settings.STAFF_SESSION_AGE


def staff_gate(request: HttpRequest) -> HttpResponse | None:
    user = request.user
    if not user.is_authenticated:
        return redirect_with_next("staff-login", request)
    if not user.has_perm("recovery.view_recoverycase"):
        raise PermissionDenied("staff pages are for support staff")
    if staff_needs_second_factor(user) and not user.is_verified():
        return redirect_with_next("staff-otp", request)
    return None


def admin_open_paths() -> set[str]:
    return {reverse("admin:login"), reverse("admin:logout")}


def admin_gate(request: HttpRequest) -> HttpResponse | None:
    """All of the admin sits behind the staff second factor, whatever the staff role: it shows every case,
    e-mail address and destination, and changes configuration."""
    user = request.user
    if user.is_authenticated and user.is_staff and not user.is_verified():
        return redirect_with_next("staff-otp", request)
    return None


def redirect_with_next(name: str, request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}")
