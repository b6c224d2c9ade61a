"""Recovery cases, their approvals and the messages between the user and staff."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from recovery.models.chain import Deposit, Network
from recovery.models.fields import BaseUnitsField


class Origin(models.TextChoices):
    USER = "user", "Filed by the user"
    AUTO = "auto", "Auto-detected"


class Category(models.TextChoices):
    UNSUPPORTED_TOKEN = "unsupported_token", "Unsupported token"
    WRONG_NETWORK = "wrong_network", "Wrong network"
    MISSING_MEMO = "missing_memo", "Missing or wrong memo"
    BELOW_MINIMUM = "below_minimum", "Below the minimum deposit"
    RETIRED_ADDRESS = "retired_address", "Retired address or deactivated account"
    NFT = "nft", "NFT"
    UNRECOVERABLE = "unrecoverable", "Unrecoverable"


class State(models.TextChoices):
    SUBMITTED = "submitted", "Submitted"
    VERIFYING = "verifying", "Verifying on-chain"
    NEEDS_INFO = "needs_info", "Waiting for your information"
    AWAITING_REVIEW = "awaiting_review", "Awaiting review"
    AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
    APPROVED = "approved", "Approved"
    REFUND_QUEUED = "refund_queued", "Refund queued"
    REFUND_BROADCAST = "refund_broadcast", "Refund sent"
    REFUND_CONFIRMED = "refund_confirmed", "Refund confirmed"
    COMPLETED = "completed", "Completed"
    CREDITED = "credited", "Credited to your account"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    REFUND_FAILED = "refund_failed", "Refund failed"
    NEEDS_REVIEW = "needs_review", "Under manual review"


class Resolution(models.TextChoices):
    ONCHAIN_RETURN = "onchain_return", "On-chain return"
    ACCOUNT_CREDIT = "account_credit", "Account credit"


CLOSED_STATES = (State.COMPLETED, State.CREDITED, State.REJECTED, State.CANCELLED)


class RecoveryCase(models.Model):
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    origin = models.CharField(max_length=8, choices=Origin.choices)
    category = models.CharField(max_length=24, choices=Category.choices)
    state = models.CharField(max_length=24, choices=State.choices, default=State.SUBMITTED)
    version = models.PositiveIntegerField(
        default=1, help_text="Bumped on every change; staff act on a version."
    )
    terms_version = models.PositiveIntegerField(
        default=0,
        help_text="Bumped by every change to the terms an approval approves: approvals count for one.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recovery_cases",
    )
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="cases")
    txid = models.CharField(max_length=100)
    claim = models.JSONField(default=dict, blank=True, help_text="What the user said they sent.")
    deposit = models.ForeignKey(
        Deposit, null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    refund_destination = models.CharField(max_length=100, blank=True)
    destination_memo = models.CharField(max_length=64, blank=True)
    destination_confirmed_at = models.DateTimeField(null=True, blank=True)
    fee_amount = BaseUnitsField(default=0, help_text="The binding fee quote, in the refunded asset's units.")
    fee_quote = models.JSONField(default=dict, blank=True, help_text="How the fee was computed, as quoted.")
    value_usd_cents = models.BigIntegerField(default=0, help_text="Estimated value of what is recovered.")
    resolution = models.CharField(max_length=16, choices=Resolution.choices, blank=True)
    refund_amount = BaseUnitsField(null=True, blank=True, help_text="Proposed amount, net of the fee.")
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    rejection_reason = models.CharField(max_length=40, blank=True)
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_flag = models.CharField(max_length=8, blank=True, help_text="'', 'near' or 'breached'.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("work_case", "Can work the recovery queue (triage, request information, propose)"),
            ("approve_case", "Can approve or reject recovery cases"),
            ("view_audit", "Can verify and export the audit log and reports"),
            ("configure", "Can configure networks, assets and fees"),
        ]
        constraints = [
            # A deposit has at most one case that can still lead to a payment.
            models.UniqueConstraint(
                fields=["deposit"],
                condition=Q(deposit__isnull=False) & ~Q(state__in=["rejected", "cancelled"]),
                name="case_one_open_case_per_deposit",
            ),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="case_fee_gte_0"),
            models.CheckConstraint(
                condition=Q(refund_amount__isnull=True) | Q(refund_amount__gt=0),
                name="case_refund_amount_gt_0",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="case_user_created_idx"),
            models.Index(fields=["state", "sla_due_at"], name="case_state_sla_idx"),
            models.Index(fields=["network", "txid"], name="case_network_txid_idx"),
        ]

    def __str__(self) -> str:
        return f"Case {self.short_ref} ({self.get_state_display()})"

    @property
    def short_ref(self) -> str:
        return str(self.reference)[:8].upper()

    @property
    def is_closed(self) -> bool:
        return self.state in CLOSED_STATES


class Approval(models.Model):
    """One approver's yes to a case's terms. Approvals of other terms (destination, amount) are void."""

    case = models.ForeignKey(RecoveryCase, on_delete=models.PROTECT, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terms_digest = models.CharField(max_length=64)
    case_version = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "approver", "terms_digest"], name="approval_one_per_approver_and_terms"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.approver} approves {self.case}"


class CaseMessage(models.Model):
    case = models.ForeignKey(RecoveryCase, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_staff = models.BooleanField(default=False)
    internal = models.BooleanField(default=False, help_text="A staff note the user does not see.")
    body = models.TextField(max_length=5000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Message on {self.case} by {self.author}"
