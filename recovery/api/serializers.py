"""API shapes of the user side. Inputs are loosely bounded here; the services give the precise messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import QueryDict
from rest_framework import serializers

from recovery.audit.reasons import reason_text
from recovery.cases import selectors
from recovery.cases.ownership import ownership_proven
from recovery.models import CaseMessage, OwnershipChallenge, RecoveryCase


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    field = serializers.CharField(allow_blank=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorBodySerializer()


class InputSerializer(serializers.Serializer):
    """A request body. JSON values must have the schema's types (DRF alone reads the number 12 as the text
    "12", the text "1" as 1 and "yes" as true); a form's values are all text and are converted as usual."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping) and not isinstance(data, QueryDict):
            errors = {
                name: [message]
                for name, field in self.fields.items()
                if data.get(name) is not None and (message := json_type_error(field, data[name]))
            }
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


def json_type_error(field: serializers.Field, value: Any) -> str:
    if isinstance(field, serializers.BooleanField):
        return "" if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return (
            ""
            if isinstance(value, int | float) and not isinstance(value, bool)
            else "Must be a whole number."
        )
    if isinstance(field, serializers.CharField):
        return "" if isinstance(value, str) else "Must be text."
    return ""


class LookupInSerializer(InputSerializer):
    network = serializers.SlugField(max_length=40)
    txid = serializers.CharField(max_length=300)
    amount = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    position = serializers.IntegerField(
        required=False, min_value=0, max_value=10_000, allow_null=True, default=None
    )


class LookupOutSerializer(serializers.Serializer):
    network = serializers.CharField()
    txid = serializers.CharField()
    confirmations = serializers.IntegerField()
    confirmations_required = serializers.IntegerField()
    transfers = serializers.ListField(child=serializers.DictField())
    chosen = serializers.IntegerField()
    category = serializers.CharField()
    needs_ownership_proof = serializers.BooleanField()
    fee = serializers.DictField()
    quote_token = serializers.CharField()
    existing_case = serializers.CharField(allow_null=True)


class FileInSerializer(InputSerializer):
    quote_token = serializers.CharField(max_length=20_000)
    refund_destination = serializers.CharField(max_length=300)
    destination_memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    otp_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    accept_fee = serializers.BooleanField(default=False)
    intended_network = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    memo_used = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=20_000, required=False, allow_blank=True, default="")


class DestinationInSerializer(InputSerializer):
    refund_destination = serializers.CharField(max_length=300)
    destination_memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    otp_code = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")


class EmailCodeInSerializer(InputSerializer):
    network = serializers.SlugField(max_length=40)
    address = serializers.CharField(max_length=300)
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class MessageInSerializer(InputSerializer):
    body = serializers.CharField(max_length=20_000)


class ChallengeInSerializer(InputSerializer):
    address = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    method = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")


class ProofInSerializer(InputSerializer):
    nonce = serializers.CharField(max_length=200)
    signature = serializers.CharField(max_length=20_000)


class MessageSerializer(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()

    class Meta:
        model = CaseMessage
        fields = ["id", "author", "body", "created_at"]

    def get_author(self, message: CaseMessage) -> str:
        return "support" if message.from_staff else "you"


class ChallengeSerializer(serializers.ModelSerializer):
    class Meta:
        model = OwnershipChallenge
        fields = ["nonce", "address", "destination", "method", "message", "expires_at"]


class CaseListSerializer(serializers.ModelSerializer):
    network = serializers.CharField(source="network.slug")
    state_label = serializers.CharField(source="get_state_display")
    short_ref = serializers.CharField()

    class Meta:
        model = RecoveryCase
        fields = [
            "reference",
            "short_ref",
            "network",
            "category",
            "state",
            "state_label",
            "txid",
            "created_at",
            "updated_at",
            "sla_due_at",
        ]


class CaseDetailSerializer(CaseListSerializer):
    deposit = serializers.SerializerMethodField()
    fee_amount = serializers.CharField()
    timeline = serializers.SerializerMethodField()
    messages = serializers.SerializerMethodField()
    refunds = serializers.SerializerMethodField()
    challenges = serializers.SerializerMethodField()
    next_step = serializers.SerializerMethodField()
    rejection_text = serializers.SerializerMethodField()
    ownership_proven = serializers.SerializerMethodField()
    can_cancel = serializers.SerializerMethodField()
    page_url = serializers.SerializerMethodField()

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "deposit",
            "refund_destination",
            "destination_memo",
            "destination_confirmed_at",
            "fee_amount",
            "fee_quote",
            "value_usd_cents",
            "claim",
            "rejection_reason",
            "rejection_text",
            "next_step",
            "timeline",
            "messages",
            "refunds",
            "challenges",
            "ownership_proven",
            "can_cancel",
            "page_url",
        ]

    def get_deposit(self, case: RecoveryCase) -> dict[str, Any] | None:
        d = case.deposit
        if d is None:
            return None
        return {
            "txid": d.txid,
            "index": d.index,
            "sender": d.sender,
            "recipient": d.recipient,
            "standard": d.standard,
            "contract": d.contract,
            "amount": str(d.amount),
            "token_id": None if d.token_id is None else str(d.token_id),
            "status": d.status,
        }

    def get_timeline(self, case: RecoveryCase) -> list[dict[str, Any]]:
        return [
            {"at": e.at, "kind": e.kind, "text": e.sentence, "detail": e.detail}
            for e in selectors.case_timeline(case)
        ]

    def get_messages(self, case: RecoveryCase) -> list[dict[str, Any]]:
        return MessageSerializer(selectors.case_messages(case), many=True).data

    def get_refunds(self, case: RecoveryCase) -> list[dict[str, Any]]:
        return [
            {
                "state": r.state,
                "tx_hash": r.tx_hash,
                "explorer_url": case.network.explorer_link(r.tx_hash),
                "amount": str(r.amount),
                "fee_amount": str(r.fee_amount),
                "destination": r.destination,
            }
            for r in selectors.case_refunds(case)
        ]

    def get_challenges(self, case: RecoveryCase) -> list[dict[str, Any]]:
        return ChallengeSerializer(selectors.case_open_challenges(case), many=True).data

    def get_next_step(self, case: RecoveryCase) -> str:
        return selectors.next_step(case)

    def get_rejection_text(self, case: RecoveryCase) -> str:
        return reason_text(case.rejection_reason)

    def get_ownership_proven(self, case: RecoveryCase) -> bool:
        return ownership_proven(case)

    def get_can_cancel(self, case: RecoveryCase) -> bool:
        return selectors.can_cancel(case)

    def get_page_url(self, case: RecoveryCase) -> str:
        return f"{settings.SITE_URL}/cases/{case.reference}/"
