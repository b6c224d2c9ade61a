"""Refunds and their signed attempts: the rows that stand between a case and money leaving the exchange."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from recovery.models.cases import RecoveryCase
from recovery.models.chain import Deposit, Network, TokenStandard
from recovery.models.fields import BaseUnitsField


class RefundState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SIGNED = "signed", "Signed, not yet sent"
    BROADCAST = "broadcast", "Broadcast"
    CONFIRMED = "confirmed", "Confirmed"
    FAILED = "failed", "Failed on-chain, nothing paid"
    NEEDS_REVIEW = "needs_review", "Unclear: a human must check the chain"
    CANCELLED = "cancelled", "Cancelled before signing"


# A refund in one of these states can still pay: at most one per case and per deposit.
LIVE_REFUND_STATES = ("queued", "signed", "broadcast", "confirmed", "needs_review")

R = RefundState
# The refund lifecycle, domain law like the case table: which state a refund may move to from each.
# broadcast -> signed is a fee bump (a same-nonce replacement, signed and stored, then broadcast again);
# signed -> signed is the same for bytes the node refused as underpriced before they were ever sent.
# needs_review is left through the case (a person records what the chain shows), never by the executor.
REFUND_TRANSITIONS: dict[RefundState, frozenset[RefundState]] = {
    R.QUEUED: frozenset({R.SIGNED, R.NEEDS_REVIEW, R.CANCELLED}),
    R.SIGNED: frozenset({R.SIGNED, R.BROADCAST, R.NEEDS_REVIEW}),
    R.BROADCAST: frozenset({R.SIGNED, R.CONFIRMED, R.FAILED, R.NEEDS_REVIEW}),
    R.CONFIRMED: frozenset(),
    R.FAILED: frozenset(),
    R.NEEDS_REVIEW: frozenset(),
    R.CANCELLED: frozenset(),
}


def refund_move(refund_id: int, *, to: RefundState, **fields: object) -> bool:
    """The one compare-and-swap that moves a refund: from whichever state the table lets reach `to`, if the
    refund is still in one. Returns whether this call moved it (False: someone else moved it first)."""
    sources = [state for state, targets in REFUND_TRANSITIONS.items() if to in targets]
    moved = Refund.objects.filter(pk=refund_id, state__in=sources).update(
        state=to, updated_at=timezone.now(), **fields
    )
    return moved == 1


class Refund(models.Model):
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(RecoveryCase, on_delete=models.PROTECT, related_name="refunds")
    deposit = models.ForeignKey(Deposit, on_delete=models.PROTECT, related_name="refunds")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="refunds")
    state = models.CharField(max_length=16, choices=RefundState.choices, default=RefundState.QUEUED)
    destination = models.CharField(max_length=100)
    standard = models.CharField(max_length=16, choices=TokenStandard.choices)
    contract = models.CharField(max_length=100, blank=True)
    token_id = BaseUnitsField(null=True, blank=True)
    amount = BaseUnitsField()
    fee_amount = BaseUnitsField(default=0)
    sender = models.CharField(max_length=100, help_text="The deposit address the refund is paid from.")
    key_index = models.PositiveBigIntegerField(null=True, blank=True)
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True, help_text="Hex of the signed bytes of the current attempt.")
    tx_hash = models.CharField(max_length=100, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(
        default=0, help_text="Times a money task was redelivered after a crash."
    )
    unclear_sends = models.PositiveIntegerField(
        default=0, help_text="Broadcasts whose outcome stayed unclear."
    )
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    block_hash = models.CharField(max_length=100, blank=True)
    amount_received = BaseUnitsField(null=True, blank=True, help_text="Balance change at the destination.")
    value_usd_cents = models.BigIntegerField(default=0, help_text="Value at the time of the refund.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    broadcast_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(state__in=LIVE_REFUND_STATES), name="refund_one_live_per_case"
            ),
            models.UniqueConstraint(
                fields=["deposit"],
                condition=Q(state__in=LIVE_REFUND_STATES),
                name="refund_one_live_per_deposit",
            ),
            models.UniqueConstraint(
                fields=["network", "sender", "nonce"],
                condition=Q(nonce__isnull=False),
                name="refund_nonce_unique_per_sender",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_gt_0"),
            models.CheckConstraint(condition=Q(fee_amount__gte=0), name="refund_fee_gte_0"),
            # Signed, sent, mined or failed on-chain: the exact bytes are on record (never re-signed).
            models.CheckConstraint(
                condition=~Q(state__in=["signed", "broadcast", "confirmed", "failed"]) | ~Q(raw_tx=""),
                name="refund_signed_bytes_stored_before_broadcast",
            ),
        ]
        indexes = [models.Index(fields=["state", "updated_at"], name="refund_state_updated_idx")]

    def __str__(self) -> str:
        return f"Refund {self.pk} ({self.state})"


class RefundAttempt(models.Model):
    """Every signed version of a refund (a fee bump is a new attempt with the same nonce)."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="attempt_rows")
    number = models.PositiveIntegerField()
    raw_tx = models.TextField()
    tx_hash = models.CharField(max_length=100, unique=True)
    nonce = models.PositiveBigIntegerField(null=True, blank=True)
    fee_cap = BaseUnitsField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)
    detail = models.TextField(blank=True)
    unsigned = models.JSONField(default=dict, blank=True, help_text="The signed fields (for a fee bump).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["refund", "number"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "number"], name="refund_attempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of refund {self.refund_id}"


class NonceCounter(models.Model):
    """The next nonce of a sending account, handed out under a row lock so nonces stay gapless."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=100)
    next_nonce = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "address"], name="nonce_counter_unique_account"),
        ]

    def __str__(self) -> str:
        return f"{self.address} next nonce {self.next_nonce}"


class GasTopUpState(models.TextChoices):
    PENDING = "pending", "Waiting to join a batch"
    BATCHED = "batched", "In a signed batch transaction"
    CONFIRMED = "confirmed", "Mined: the deposit address was funded"
    FAILED = "failed", "The batch failed on-chain"
    CANCELLED = "cancelled", "No longer needed before it was batched"


class GasTopUpBatchState(models.TextChoices):
    SIGNED = "signed", "Signed and stored, not yet sent"
    BROADCAST = "broadcast", "Sent"
    CONFIRMED = "confirmed", "Mined: the deposit addresses were funded"
    FAILED = "failed", "Reverted on-chain"


class GasTopUpBatch(models.Model):
    """One transaction from the gas wallet funding one or more deposit addresses (a disperse call when
    the network has a disperse contract, else a plain transfer to a single address). Stored before sent."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    sender = models.CharField(max_length=100, help_text="The gas wallet.")
    nonce = models.PositiveBigIntegerField()
    total = BaseUnitsField(help_text="Wei sent in all (the sum of the batch's top-ups).")
    recipients = models.PositiveIntegerField()
    raw_tx = models.TextField()
    tx_hash = models.CharField(max_length=100, unique=True)
    state = models.CharField(
        max_length=16, choices=GasTopUpBatchState.choices, default=GasTopUpBatchState.SIGNED
    )
    fee_paid = BaseUnitsField(null=True, blank=True, help_text="Wei the gas wallet paid to mine it.")
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["network", "sender", "nonce"], name="gas_batch_nonce_unique"),
            models.CheckConstraint(condition=Q(total__gt=0), name="gas_batch_total_gt_0"),
            models.CheckConstraint(condition=~Q(raw_tx=""), name="gas_batch_bytes_stored"),
        ]

    def __str__(self) -> str:
        return f"Top-up batch {self.tx_hash} ({self.recipients} addresses, {self.state})"


class GasTopUp(models.Model):
    """Native coin the gas wallet owes a deposit address so it can pay its refund's gas, waiting (pending)
    until a batch takes it, then sent once as part of that batch. At most one open per refund; a refund
    the node refused for funds after signing gets another, and its same bytes are sent again."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="top_ups")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="+")
    recipient = models.CharField(max_length=100, help_text="The deposit address to fund.")
    amount = BaseUnitsField()
    batchable = models.BooleanField(
        default=False,
        help_text="Goes through the disperse contract: the address already exists (EIP-161), so funding it "
        "there is cheaper than a plain transfer; funding an empty one costs 25,000 gas more there.",
    )
    batch = models.ForeignKey(
        GasTopUpBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="top_ups"
    )
    state = models.CharField(max_length=16, choices=GasTopUpState.choices, default=GasTopUpState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="gas_top_up_amount_gt_0"),
            models.UniqueConstraint(
                fields=["refund"],
                condition=Q(state__in=["pending", "batched"]),
                name="gas_top_up_one_open_per_refund",
            ),
            # Once in a batch it stays there: the batch's bytes may be mined, so never batch it twice.
            models.CheckConstraint(
                condition=Q(state__in=["pending", "cancelled"], batch__isnull=True)
                | Q(state__in=["batched", "confirmed", "failed"], batch__isnull=False),
                name="gas_top_up_batched_iff_in_batch",
            ),
        ]
        indexes = [
            models.Index(fields=["network", "state", "batchable"], name="gas_top_up_waiting_idx"),
        ]

    def __str__(self) -> str:
        return f"Top-up {self.amount} for refund {self.refund_id} ({self.state})"
