"""Forms of the user pages. Lengths are checked by the services, so every page gives the same messages."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from recovery.models import Network

OTP_HELP = "The 6-digit code from your authenticator app, or from the e-mail we send you."


class SignupForm(UserCreationForm):
    email = forms.EmailField(help_text="We send case updates and confirmation codes here.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class LookupForm(forms.Form):
    network = forms.ModelChoiceField(
        queryset=Network.objects.order_by("name"), empty_label="Choose the network you sent on"
    )
    txid = forms.CharField(label="Transaction id (hash)", strip=True, max_length=300)
    amount = forms.CharField(
        label="Amount you sent (optional)",
        required=False,
        max_length=300,
        help_text="We check it against the chain.",
    )


class ClaimForm(forms.Form):
    quote_token = forms.CharField(widget=forms.HiddenInput)
    refund_destination = forms.CharField(
        label="Refund destination", max_length=300, help_text="An address of your own wallet on this network."
    )
    destination_memo = forms.CharField(label="Memo / tag (only if your wallet needs one)", required=False)
    intended_network = forms.CharField(label="The network you meant to deposit on", required=False)
    memo_used = forms.CharField(label="The memo or tag you entered (if any)", required=False)
    note = forms.CharField(
        label="Anything else we should know (optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    otp_code = forms.CharField(label="Confirmation code", required=False, help_text=OTP_HELP)
    accept_fee = forms.BooleanField(label="I accept the fee quote above", required=False)


class DestinationForm(forms.Form):
    refund_destination = forms.CharField(label="New refund destination", max_length=300)
    destination_memo = forms.CharField(label="Memo / tag (only if needed)", required=False)
    otp_code = forms.CharField(label="Confirmation code", required=False, help_text=OTP_HELP)


class MessageForm(forms.Form):
    body = forms.CharField(label="Message to support", widget=forms.Textarea(attrs={"rows": 4}))


class ChallengeForm(forms.Form):
    address = forms.CharField(required=False, widget=forms.HiddenInput)
    method = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Recommended"),
            ("eip191", "EIP-191 (Ethereum wallets)"),
            ("bip322", "BIP-322"),
            ("legacy", "Legacy signmessage"),
        ],
    )


class AnswerForm(forms.Form):
    nonce = forms.CharField(widget=forms.HiddenInput)
    signature = forms.CharField(label="Signature", widget=forms.Textarea(attrs={"rows": 3}))


class CodeForm(forms.Form):
    code = forms.CharField(label="Code from your authenticator app", max_length=12)


class WhitelistForm(forms.Form):
    network = forms.ModelChoiceField(queryset=Network.objects.order_by("name"))
    address = forms.CharField(max_length=300)
    memo = forms.CharField(required=False)
    label = forms.CharField(required=False, max_length=80)
    otp_code = forms.CharField(label="Confirmation code", required=False, help_text=OTP_HELP)


class WhitelistRemoveForm(forms.Form):
    destination = forms.IntegerField(min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)


class WhitelistOnlyForm(forms.Form):
    enabled = forms.BooleanField(required=False, label="Send refunds only to whitelisted addresses")
    otp_code = forms.CharField(label="Confirmation code", required=False, help_text=OTP_HELP)
