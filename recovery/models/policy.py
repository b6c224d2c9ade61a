"""Configuration the exchange edits: fees, screening lists, token rules, SLA targets and static prices."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from recovery.models.cases import Category
from recovery.models.chain import Network


class FeeRule(models.Model):
    """How a case of a category (on a network, or any network) is charged. The quote binds the case."""

    category = models.CharField(max_length=24, choices=Category.choices)
    network = models.ForeignKey(Network, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    flat_usd_cents = models.PositiveBigIntegerField(default=0)
    percent_bps = models.PositiveIntegerField(default=0, help_text="Basis points of the recovered value.")
    cap_usd_cents = models.PositiveBigIntegerField(null=True, blank=True, help_text="The most ever charged.")
    free_below_usd_cents = models.PositiveBigIntegerField(default=0, help_text="No fee below this value.")
    include_network_cost = models.BooleanField(default=True, help_text="Add the on-chain cost of the return.")
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["category", "network"], condition=Q(active=True), name="fee_rule_one_active_per_scope"
            ),
            models.CheckConstraint(condition=Q(percent_bps__lte=10_000), name="fee_rule_percent_lte_100"),
        ]

    def __str__(self) -> str:
        return f"Fee for {self.get_category_display()} on {self.network or 'any network'}"


class ScreeningKind(models.TextChoices):
    SANCTIONED = "sanctioned", "Sanctioned / deny-listed"
    EXCHANGE_HOT_WALLET = "exchange_hot_wallet", "Known exchange hot wallet"
    CONTRACT = "contract", "Known contract"


class ScreenedAddress(models.Model):
    """Addresses refunds are never sent to automatically (sanctioned: never at all)."""

    family = models.CharField(max_length=16)
    address = models.CharField(max_length=100)
    kind = models.CharField(max_length=24, choices=ScreeningKind.choices)
    label = models.CharField(max_length=120, blank=True)
    source = models.CharField(max_length=120, blank=True)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["family", "address", "kind"], name="screened_address_unique")
        ]

    def __str__(self) -> str:
        return f"{self.address} ({self.kind})"


class TokenRuleKind(models.TextChoices):
    DENY = "deny", "Never auto-return (needs a human)"
    SPAM = "spam", "Spam / scam airdrop: record and ignore"
    LEGACY = "legacy", "Pre-standard ERC-20: its Transfer event indexes nothing (decode it as such)"


class TokenRule(models.Model):
    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="token_rules")
    contract = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=TokenRuleKind.choices)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "contract"], name="token_rule_unique")]

    def __str__(self) -> str:
        return f"{self.kind} {self.contract} on {self.network.slug}"


class SlaPolicy(models.Model):
    category = models.CharField(max_length=24, choices=Category.choices, unique=True)
    target_hours = models.PositiveIntegerField()
    warn_hours = models.PositiveIntegerField(help_text="Flag the case as near its deadline this long before.")

    def __str__(self) -> str:
        return f"SLA {self.category}: {self.target_hours} h"


class AssetPrice(models.Model):
    """The static price table (the default pricing source): USD per whole unit, in micro-dollars."""

    network = models.ForeignKey(Network, on_delete=models.CASCADE, related_name="prices")
    contract = models.CharField(max_length=100, blank=True, help_text="Empty for the native coin.")
    symbol = models.CharField(max_length=20)
    decimals = models.PositiveSmallIntegerField()
    usd_micros_per_unit = models.PositiveBigIntegerField(help_text="1 USD = 1,000,000.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["network", "contract"], name="asset_price_unique")]

    def __str__(self) -> str:
        return f"{self.symbol} on {self.network.slug}"


class ConfigChangeAction(models.TextChoices):
    ADD = "add", "Add"
    CHANGE = "change", "Change"
    DELETE = "delete", "Delete"


class PendingConfigChange(models.Model):
    """A change to money policy that one administrator asked for and a second one must apply: owner
    mappings, the screened list, fee rules. Until applied, nothing changes."""

    model = models.CharField(max_length=100, help_text="app_label.ModelName")
    object_pk = models.CharField(max_length=64, blank=True, help_text="Empty for an addition.")
    action = models.CharField(max_length=8, choices=ConfigChangeAction.choices)
    values = models.JSONField(default=dict, help_text="The new values, field attname -> text.")
    old_values = models.JSONField(default=dict)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The first administrator.",
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    applied_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.action} {self.model} {self.object_pk or '(new)'}"
