"""Staff forms: queue and audit filters, and the decision forms (each posts the case version it showed)."""

from __future__ import annotations

from django import forms

from recovery.audit.reasons import REJECTION_REASONS
from recovery.models import Category, Origin, Resolution, State
from recovery.staff.selectors import SLA_FILTERS


def with_blank(choices: list[tuple[str, str]], blank: str = "any") -> list[tuple[str, str]]:
    return [("", blank), *choices]


class QueueFilterForm(forms.Form):
    state = forms.ChoiceField(
        required=False, choices=[("", "open cases"), ("all", "all cases"), *State.choices]
    )
    category = forms.ChoiceField(required=False, choices=with_blank(Category.choices))
    network = forms.ChoiceField(required=False, choices=[("", "any")])
    origin = forms.ChoiceField(required=False, choices=with_blank(Origin.choices))
    sla = forms.ChoiceField(
        required=False, choices=with_blank([(s, s.replace("_", " ")) for s in SLA_FILTERS])
    )
    min_usd = forms.IntegerField(required=False, min_value=0, label="Value from (USD)")
    max_usd = forms.IntegerField(required=False, min_value=0, label="Value to (USD)")
    assigned = forms.ChoiceField(
        required=False, choices=[("", "anyone"), ("me", "me"), ("none", "unassigned")]
    )
    q = forms.CharField(required=False, max_length=100, label="Reference or txid")

    def __init__(self, *args, networks: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["network"].choices = [("", "any"), *((slug, slug) for slug in networks)]


class VersionedForm(forms.Form):
    """Every decision names the case version the member of staff was looking at."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class AssignForm(VersionedForm):
    assignee = forms.IntegerField(required=False, widget=forms.HiddenInput)


class RequestInfoForm(VersionedForm):
    question = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class ProposeForm(VersionedForm):
    resolution = forms.ChoiceField(choices=Resolution.choices)
    refund_amount = forms.IntegerField(min_value=1, label="Amount to the user (base units, net of the fee)")


class RejectForm(VersionedForm):
    # Not required here: a missing code is refused by the workflow, so the attempt is audited too.
    reason_code = forms.ChoiceField(
        required=False, choices=with_blank(list((code, code) for code in REJECTION_REASONS), "choose...")
    )


class MarkCreditedForm(VersionedForm):
    # Not required nor bounded here: the service refuses a missing or over-long reference, audited.
    ledger_reference = forms.CharField(required=False, label="Ledger reference of the credit")


class OtpForm(forms.Form):
    token = forms.CharField(
        max_length=8,
        label="Code from your authenticator app",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class AuditFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "any")])
    actor = forms.CharField(required=False, max_length=150)
    case = forms.CharField(required=False, max_length=40, label="Case id or reference")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Until (incl.)"
    )

    def __init__(self, *args, kinds: list[str] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "any"), *((kind, kind) for kind in kinds)]


class MonthForm(forms.Form):
    month = forms.RegexField(
        regex=r"^\d{4}-(0[1-9]|1[0-2])$", max_length=7, error_messages={"invalid": "Use YYYY-MM."}
    )
