"""User pages: sign up, file a case (lookup, quote, confirm), follow it. Each view calls one service."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required as django_login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from recovery.accounts import destinations, factors, second_factor
from recovery.accounts.errors import UserError
from recovery.accounts.throttling import client_ip
from recovery.cases import claims, filing, ownership, selectors, user_actions
from recovery.cases.workflow import needs_refund_destination
from recovery.models import Network, UserDestination, UserProfile
from recovery.onchain.pricing import usd
from recovery.web import forms


def login_required(view: Any) -> Any:
    return django_login_required(view, login_url="web:login")


def show_error(form: Any, error: UserError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("web:case-list")
    return render(request, "web/home.html")


def signup(request: HttpRequest) -> HttpResponse:
    form = forms.SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_actions.account_signup(
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("web:case-list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.user_cases(request.user), 20).get_page(request.GET.get("page"))
    return render(request, "web/case_list.html", {"page": page})


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    """Step 1: network and txid. The lookup runs at once and shows what the chain says, with the quote."""
    form = forms.LookupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            preview = claims.claim_preview(
                user=request.user,
                network=form.cleaned_data["network"],
                txid=form.cleaned_data["txid"],
                amount=form.cleaned_data["amount"],
            )
        except UserError as error:
            show_error(form, error)
        else:
            claim = forms.ClaimForm(initial={"quote_token": preview.quote_token})
            return render_review(request, claim, preview.quote_token, preview.existing_case)
    return render(request, "web/case_new.html", {"form": form})


def render_review(
    request: HttpRequest, claim: forms.ClaimForm, token: str, existing: Any = None
) -> HttpResponse:
    quote = filing.quote_load(token, request.user)
    context = {
        "claim": claim,
        "view": quote["view"],
        "existing": existing if existing is not None and existing.user_id == request.user.pk else None,
        "has_totp": second_factor.has_totp(request.user),
    }
    return render(request, "web/case_review.html", context)


@login_required
@require_POST
def case_confirm(request: HttpRequest) -> HttpResponse:
    """Step 2: the destination, the category's extra facts, the second factor; files the case."""
    claim = forms.ClaimForm(request.POST)
    if not claim.is_valid():
        return redirect("web:case-new")
    data = claim.cleaned_data
    try:
        if request.POST.get("action") == "send_code":
            quote = filing.quote_load(data["quote_token"], request.user)
            destinations.destination_code_send(
                user=request.user,
                network=Network.objects.get(slug=quote["network"]),
                address=data["refund_destination"],
                memo=data["destination_memo"],
                client_ip=client_ip(request),
            )
            messages.info(request, "We e-mailed you a code for this destination. It expires in 10 minutes.")
            return render_review(request, forms.ClaimForm(initial=data), data["quote_token"])
        filed = filing.claim_file(
            user=request.user,
            quote_token=data["quote_token"],
            refund_destination=data["refund_destination"],
            destination_memo=data["destination_memo"],
            otp_code=data["otp_code"],
            accept_fee=data["accept_fee"],
            facts={k: data[k] for k in ("intended_network", "memo_used", "note")},
        )
    except UserError as error:
        if error.code in ("quote_expired", "invalid_quote"):
            messages.error(request, error.message)
            return redirect("web:case-new")
        show_error(claim, error)
        return render_review(request, claim, data["quote_token"])
    messages.success(request, filed.message)
    return redirect("web:case-detail", reference=filed.case.reference)


@login_required
def case_detail(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    timeline = selectors.case_timeline(case)
    decimals = case.claim.get("decimals")
    context = {
        "case": case,
        "timeline": timeline,
        "question": selectors.open_question(case, timeline),
        "next_step": selectors.next_step(case),
        "sla_due": selectors.sla_estimate(case),
        "messages_list": selectors.case_messages(case),
        "refunds": [
            (refund, case.network.explorer_link(refund.tx_hash)) for refund in selectors.case_refunds(case)
        ],
        "challenges": selectors.case_open_challenges(case),
        "proven": ownership.ownership_proven(case),
        "senders": ownership.sender_addresses(case),
        "can_cancel": selectors.can_cancel(case),
        "needs_destination": needs_refund_destination(case),
        "message_form": forms.MessageForm(),
        "destination_form": forms.DestinationForm(),
        "answer_form": forms.AnswerForm(),
        "has_totp": second_factor.has_totp(request.user),
        "deposit_link": case.network.explorer_link(case.txid),
        "deposit_amount": claims.format_amount(case.deposit.amount, decimals) if case.deposit else "",
        "fee_display": claims.format_amount(int(case.fee_amount), decimals),
        "fee_usd": usd(case.fee_quote.get("fee_usd_cents")),
    }
    return render(request, "web/case_detail.html", context)


def back_to_case(reference: str) -> HttpResponse:
    return redirect("web:case-detail", reference=reference)


@login_required
@require_POST
def case_message(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    form = forms.MessageForm(request.POST)
    try:
        user_actions.case_message_post(user=request.user, case=case, body=request.POST.get("body", ""))
        messages.success(request, "Message sent to support.")
    except UserError as error:
        messages.error(request, error.message)
    del form
    return back_to_case(reference)


@login_required
@require_POST
def case_cancel(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    try:
        user_actions.case_cancel_by_owner(user=request.user, case=case)
        messages.success(request, "The case is cancelled. Nothing was charged.")
    except UserError as error:
        messages.error(request, error.message)
    return back_to_case(reference)


@login_required
@require_POST
def case_destination(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    form = forms.DestinationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Enter the new destination address.")
        return back_to_case(reference)
    data = form.cleaned_data
    try:
        if request.POST.get("action") == "send_code":
            destinations.destination_code_send(
                user=request.user,
                network=case.network,
                address=data["refund_destination"],
                memo=data["destination_memo"],
                client_ip=client_ip(request),
            )
            messages.info(
                request, "We e-mailed you a code for this destination. Enter it below with the address."
            )
        else:
            had_one = bool(case.refund_destination)
            user_actions.destination_change(
                user=request.user,
                case=case,
                address=data["refund_destination"],
                memo=data["destination_memo"],
                otp_code=data["otp_code"],
            )
            messages.success(
                request,
                "Refund destination changed. Earlier approvals no longer count."
                if had_one
                else "Refund address set. Support reviews the case next.",
            )
    except UserError as error:
        messages.error(request, error.message)
    return back_to_case(reference)


@login_required
@require_POST
def case_challenge(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    form = forms.ChallengeForm(request.POST)
    form.is_valid()
    try:
        ownership.challenge_issue(
            user=request.user,
            case=case,
            address=form.cleaned_data.get("address", ""),
            method=form.cleaned_data.get("method", ""),
        )
        messages.info(
            request, "Sign the message below with the sending address's wallet, then paste the signature."
        )
    except UserError as error:
        messages.error(request, error.message)
    return back_to_case(reference)


@login_required
@require_POST
def case_proof(request: HttpRequest, reference: str) -> HttpResponse:
    case = selectors.user_case(request.user, reference)
    try:
        ownership.challenge_answer(
            user=request.user,
            case=case,
            nonce=request.POST.get("nonce", ""),
            signature=request.POST.get("signature", ""),
        )
        messages.success(request, "Ownership proven. Thank you.")
    except UserError as error:
        messages.error(request, error.message)
    return back_to_case(reference)


SETUP_KEY = "totp_setup_device"
CODES_KEY = "recovery_codes_once"


@login_required
def security(request: HttpRequest) -> HttpResponse:
    """The second factor (authenticators, recovery codes) and the withdrawal whitelist."""
    user = request.user
    setup = TOTPDevice.objects.filter(user=user, confirmed=False, pk=request.session.get(SETUP_KEY)).first()
    devices = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("created_at")
    context = {
        "has_totp": second_factor.has_totp(user),
        "devices": [(d, d.created_at + settings.FACTOR_COOLING_OFF) for d in devices],
        "device": setup,
        "recovery_codes": request.session.pop(CODES_KEY, None),
        "cooling_off_hours": round(settings.FACTOR_COOLING_OFF.total_seconds() / 3600),
        "code_form": forms.CodeForm(),
        "whitelist_form": forms.WhitelistForm(),
        "profile": UserProfile.objects.filter(user=user).first(),
        "destinations": UserDestination.objects.filter(user=user).order_by("-confirmed_at"),
    }
    return render(request, "web/security.html", context)


@login_required
@require_POST
def security_totp_start(request: HttpRequest) -> HttpResponse:
    """Adding an authenticator starts with the factor the user already has."""
    try:
        if request.POST.get("action") == "send_code":
            factors.factor_code_send(user=request.user, client_ip=client_ip(request))
            messages.info(request, "We e-mailed you a code. Enter it to add an authenticator.")
        else:
            device = factors.totp_enrolment_start(
                user=request.user, otp_code=request.POST.get("otp_code", "")
            )
            request.session[SETUP_KEY] = device.pk
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")


@login_required
@require_POST
def security_totp(request: HttpRequest) -> HttpResponse:
    try:
        codes = factors.totp_enrolment_confirm(
            user=request.user, device_id=request.session.get(SETUP_KEY), code=request.POST.get("code", "")
        )
        request.session.pop(SETUP_KEY, None)
        request.session[CODES_KEY] = codes
        messages.success(request, "Authenticator added. Keep the recovery codes below somewhere safe.")
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")


@login_required
@require_POST
def security_totp_remove(request: HttpRequest) -> HttpResponse:
    try:
        if request.POST.get("action") == "send_code":
            factors.factor_code_send(user=request.user, client_ip=client_ip(request))
            messages.info(request, "We e-mailed you a code. Enter it with your password to remove it.")
        else:
            factors.totp_device_remove(
                user=request.user,
                device_id=_int_or_none(request.POST.get("device")),
                code=request.POST.get("otp_code", ""),
                password=request.POST.get("password", ""),
            )
            messages.success(request, "Authenticator removed. We e-mailed you about it.")
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


@login_required
@require_POST
def security_whitelist(request: HttpRequest) -> HttpResponse:
    form = forms.WhitelistForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a network and enter an address.")
        return redirect("web:security")
    data = form.cleaned_data
    try:
        if request.POST.get("action") == "send_code":
            destinations.destination_code_send(
                user=request.user,
                network=data["network"],
                address=data["address"],
                memo=data["memo"],
                client_ip=client_ip(request),
            )
            messages.info(request, "We e-mailed you a code for this address.")
        else:
            destinations.whitelist_add(
                user=request.user,
                network=data["network"],
                address=data["address"],
                memo=data["memo"],
                label=data["label"],
                otp_code=data["otp_code"],
            )
            messages.success(
                request, "Added to your whitelist. A new address is usable after the cooling-off period."
            )
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")


@login_required
@require_POST
def security_whitelist_remove(request: HttpRequest) -> HttpResponse:
    form = forms.WhitelistRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not an address of your whitelist: reload this page and try again.")
        return redirect("web:security")
    try:
        removed = destinations.whitelist_remove(
            user=request.user, destination_id=form.cleaned_data["destination"]
        )
        messages.success(
            request,
            f"Removed {removed.address} from your whitelist. "
            "Adding it again starts a new cooling-off period.",
        )
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")


@login_required
@require_POST
def security_whitelist_only(request: HttpRequest) -> HttpResponse:
    form = forms.WhitelistOnlyForm(request.POST)
    form.is_valid()
    enabled = bool(form.cleaned_data.get("enabled"))
    try:
        if request.POST.get("action") == "send_code":
            destinations.whitelist_only_code_send(
                user=request.user, enabled=enabled, client_ip=client_ip(request)
            )
            messages.info(request, "We e-mailed you a code to confirm this change.")
        else:
            destinations.whitelist_only_set(
                user=request.user, enabled=enabled, otp_code=form.cleaned_data.get("otp_code", "")
            )
            messages.success(request, "Whitelist setting saved.")
    except UserError as error:
        messages.error(request, error.message)
    return redirect("web:security")
