"""The append-only, hash-chained audit log. UPDATE and DELETE are refused by database triggers."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from recovery.models.cases import RecoveryCase

GENESIS_HASH = "0" * 64


class CaseEvent(models.Model):
    """One thing that happened to a case (or, with no case, to the system), chained to the one before.

    Each chain (one per case, one "system" chain) is a sequence 1, 2, 3 ...; an event's hash covers its
    content and the hash of the previous event of the same chain, and the chain's head is kept in
    `EventChainHead`, so an edited, removed or truncated event breaks verification.
    """

    chain = models.CharField(max_length=32, help_text="'case:<id>' or 'system'.")
    seq = models.PositiveBigIntegerField()
    case = models.ForeignKey(
        RecoveryCase, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Who acted, as seen at the time.")
    from_state = models.CharField(max_length=24, blank=True)
    to_state = models.CharField(max_length=24, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="case_event_unique_seq")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.kind}"


class EventChainHead(models.Model):
    """The latest hash and length of each event chain, locked while an event is appended."""

    chain = models.CharField(max_length=32, unique=True)
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64, default=GENESIS_HASH)

    def __str__(self) -> str:
        return f"{self.chain} head #{self.seq}"


class Notification(models.Model):
    """A message sent to a user about an event; unique per event and channel so redelivery sends once."""

    event = models.ForeignKey(CaseEvent, on_delete=models.PROTECT, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, default="email")
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="notification_once_per_event_channel")
        ]

    def __str__(self) -> str:
        return f"{self.channel} for {self.event}"
