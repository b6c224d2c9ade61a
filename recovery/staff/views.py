"""Staff pages: the queue, a case's evidence and decisions, the dashboard, the audit log, the monthly report.

Every decision posts to one action view that calls exactly one audited service with the case version
the page showed; a refusal comes back as a message and is already in the audit log.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_otp import login as otp_login
from django_otp import match_token, user_has_device

from recovery.audit.events import event_log_verify
from recovery.audit.reasons import REJECTION_REASONS
from recovery.cases import queue
from recovery.cases.actions import (
    LEDGER_REFERENCE_MAX_LENGTH,
    case_approve,
    case_mark_credited,
    case_reject,
    case_request_destination,
    case_request_info,
)
from recovery.cases.waiting import staff_waiting
from recovery.cases.workflow import WorkflowError, allowed_targets, needs_refund_destination
from recovery.models import RecoveryCase, Resolution, State
from recovery.staff import forms, report
from recovery.staff.middleware import STARTED_KEY
from recovery.staff.selectors import (
    audit_event_kinds,
    audit_events,
    case_evidence,
    case_workers,
    dashboard_figures,
    queue_cases,
    queue_networks,
)

PAGE_SIZE = 50

REFUSAL_HINTS = {
    "stale_case": "Someone changed this case after you opened it; review it, then act again.",
    "four_eyes": "Four-eyes rule.",
    "not_permitted": "You do not hold the permission for this.",
    "reason_required": "Choose one of the standard reason codes.",
    "approvals_incomplete": "Approvals are incomplete.",
    "illegal_transition": "Not possible in the case's current state.",
    "ledger_reference": "Copy the credit's reference from the exchange's ledger.",
}


# --- login, second factor, logout -----------------------------------------------------------------


class StaffLoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        self.request.session[STARTED_KEY] = timezone.now().timestamp()
        self.request.session.set_expiry(settings.STAFF_SESSION_AGE)  # the cookie ends when the server does
        return response

    def get_default_redirect_url(self) -> str:
        return reverse("staff-queue")


class StaffLogoutView(auth_views.LogoutView):
    next_page = "staff-login"


def safe_next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    ok = url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure())
    return target if ok else default


def staff_otp(request: HttpRequest) -> HttpResponse:
    """Second factor: a TOTP code from the device `manage.py setup_staff_otp` enrolled."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect(reverse("staff-login"))
    form = forms.OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(request.user, form.cleaned_data["token"].strip())
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(safe_next(request, reverse("staff-queue")))
        form.add_error("token", "That code is not valid (or was already used). Wait for the next one.")
    context = {"form": form, "has_device": user_has_device(request.user), "next": safe_next(request, "")}
    return render(request, "staff/otp.html", context)


# --- the queue and a case -------------------------------------------------------------------------


@require_GET
def queue_page(request: HttpRequest) -> HttpResponse:
    networks = list(queue_networks().values_list("slug", flat=True))
    form = forms.QueueFilterForm(request.GET or None, networks=networks)
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        filters = {key: data[key] for key in ("state", "category", "network", "origin", "sla")}
        filters["min_usd_cents"] = None if data["min_usd"] is None else data["min_usd"] * 100
        filters["max_usd_cents"] = None if data["max_usd"] is None else data["max_usd"] * 100
        filters["assignee"] = request.user if data["assigned"] == "me" else None
        filters["unassigned"] = data["assigned"] == "none"
        filters["search"] = data["q"]
    page = Paginator(queue_cases(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "now": timezone.now()}
    return render(request, "staff/queue.html", context)


@require_GET
def case_page(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(RecoveryCase, pk=pk)
    file = case_evidence(pk)
    user = request.user
    context = {
        "file": file,
        "case": file.case,
        "workers": case_workers(),
        "reasons": sorted(REJECTION_REASONS.items()),
        "can_work": user.has_perm("recovery.work_case"),
        "can_approve": user.has_perm("recovery.approve_case"),
        "propose_form": forms.ProposeForm(
            initial={"refund_amount": file.net_amount, "resolution": "onchain_return"}
        ),
        "open_states": {State.AWAITING_REVIEW, State.SUBMITTED, State.VERIFYING, State.NEEDS_INFO},
        "can_reject_now": State.REJECTED in allowed_targets(file.case.state),
        "can_mark_credited": can_mark_credited(file.case, user),
        "waiting": staff_waiting(file.case),
        "needs_destination": needs_refund_destination(file.case),
        "ledger_reference_max": LEDGER_REFERENCE_MAX_LENGTH,
    }
    return render(request, "staff/case.html", context)


def can_mark_credited(case: RecoveryCase, user: Any) -> bool:
    """Offer the credit form on an approved account credit to staff whose role may take the edge."""
    return (
        case.state == State.APPROVED
        and case.resolution == Resolution.ACCOUNT_CREDIT
        and queue.staff_actor(user, "mark_credited").holds_role()
    )


# Each action: its form, and the one service it calls with the cleaned data.
ActionCall = Callable[[int, Any, dict[str, Any]], RecoveryCase]
ACTIONS: dict[str, tuple[type[forms.VersionedForm], ActionCall]] = {
    "assign": (
        forms.AssignForm,
        lambda pk, actor, d: queue.case_assign(
            case_id=pk, actor=actor, assignee_id=d["assignee"], expected_version=d["version"]
        ),
    ),
    "triage": (
        forms.VersionedForm,
        lambda pk, actor, d: queue.case_triage(case_id=pk, actor=actor, expected_version=d["version"]),
    ),
    "request_info": (
        forms.RequestInfoForm,
        lambda pk, actor, d: case_request_info(
            case_id=pk, actor=actor, question=d["question"], expected_version=d["version"]
        ),
    ),
    "request_destination": (
        forms.VersionedForm,
        lambda pk, actor, d: case_request_destination(case_id=pk, actor=actor, expected_version=d["version"]),
    ),
    "propose": (
        forms.ProposeForm,
        lambda pk, actor, d: queue.case_propose_resolution(
            case_id=pk,
            actor=actor,
            resolution=d["resolution"],
            refund_amount=d["refund_amount"],
            expected_version=d["version"],
        ),
    ),
    "approve": (
        forms.VersionedForm,
        lambda pk, actor, d: case_approve(case_id=pk, actor=actor, expected_version=d["version"]),
    ),
    "reject": (
        forms.RejectForm,
        lambda pk, actor, d: case_reject(
            case_id=pk, actor=actor, reason_code=d["reason_code"], expected_version=d["version"]
        ),
    ),
    "mark_credited": (
        forms.MarkCreditedForm,
        lambda pk, actor, d: case_mark_credited(
            case_id=pk, actor=actor, ledger_reference=d["ledger_reference"], expected_version=d["version"]
        ),
    ),
}


@require_POST
def case_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise PermissionDenied(f"no staff action {action!r}")
    get_object_or_404(RecoveryCase, pk=pk)
    form_class, call = ACTIONS[action]
    form = form_class(request.POST)
    back = HttpResponseRedirect(reverse("staff-case", args=[pk]))
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in form.errors.items())
        messages.error(request, f"Nothing was done: the form was incomplete ({problems}).")
        return back
    try:
        case = call(pk, queue.staff_actor(request.user, action), form.cleaned_data)
    except WorkflowError as error:
        hint = REFUSAL_HINTS.get(error.code, "")
        messages.error(request, f"Refused: {hint} {error} (recorded in the audit log)".replace("  ", " "))
        return back
    messages.success(request, success_text(action, case))
    return back


def success_text(action: str, case: RecoveryCase) -> str:
    if action == "approve" and case.state == State.AWAITING_APPROVAL:
        return "Your approval is recorded. The case needs another, distinct approver."
    if action == "approve" and case.state == State.APPROVED and case.resolution == Resolution.ONCHAIN_RETURN:
        return "Approved. The refund is queued and sent by the refund worker; follow it on this page."
    if action == "mark_credited":
        return "The credit is recorded with its ledger reference. The case is closed as credited."
    return f"Done: {action.replace('_', ' ')}. The case is now {case.get_state_display().lower()}."


# --- dashboard, audit, report ---------------------------------------------------------------------


@require_GET
def dashboard_page(request: HttpRequest) -> HttpResponse:
    return render(request, "staff/dashboard.html", {"figures": dashboard_figures()})


def require_audit_permission(request: HttpRequest) -> None:
    if not request.user.has_perm("recovery.view_audit"):
        raise PermissionDenied("the audit log and reports are for auditors")


def day_start(day: Any) -> datetime | None:
    return None if day is None else timezone.make_aware(datetime.combine(day, time.min))


@require_GET
def audit_page(request: HttpRequest) -> HttpResponse:
    require_audit_permission(request)
    form = forms.AuditFilterForm(request.GET or None, kinds=audit_event_kinds())
    filters: dict[str, Any] = {}
    if form.is_valid():
        data = form.cleaned_data
        until = day_start(data["until"])
        filters = {
            "kind": data["kind"],
            "actor": data["actor"],
            "case": data["case"],
            "since": day_start(data["since"]),
            "until": until + timedelta(days=1) if until else None,
        }
    page = Paginator(audit_events(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "breaks": event_log_verify()}
    return render(request, "staff/audit.html", context)


def report_month(request: HttpRequest) -> tuple[forms.MonthForm, Any]:
    default = (timezone.now().date().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    form = forms.MonthForm({"month": request.GET.get("month") or default})
    month = report.parse_month(form.cleaned_data["month"]) if form.is_valid() else None
    return form, month


@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    require_audit_permission(request)
    form, month = report_month(request)
    built = report.report_build(month=month) if month else None
    context = {"form": form, "report": built}
    if built:
        context["totals"] = [built.total(report.MANUAL), built.total(report.AUTO)]
    return render(request, "staff/report.html", context)


@require_GET
def report_csv(request: HttpRequest) -> HttpResponse:
    require_audit_permission(request)
    _, month = report_month(request)
    if month is None:
        return HttpResponse("month must be YYYY-MM", status=400, content_type="text/plain")
    built = report.report_build(month=month)
    response = HttpResponse(report.report_csv(built), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="recovery-report-{built.label}.csv"'
    return response
