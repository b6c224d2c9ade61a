"""Django admin: configuration and read access for staff. The event log is read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from recovery import models as m
from recovery.audit.events import event_record
from recovery.audit.roles import Actor, Role


class AuditedAdmin(admin.ModelAdmin):
    """Money policy (networks, assets, prices, fee rules, token rules, screening, owner mappings): every
    change, addition and deletion made here is written to the audit log's system chain with the old and
    the new values, so nothing about how money is routed changes without a trace."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before = _values(type(obj).objects.filter(pk=obj.pk).first()) if change and obj.pk else {}
        super().save_model(request, obj, form, change)
        after = _values(obj)
        changed = {k: {"old": before.get(k), "new": v} for k, v in after.items() if before.get(k) != v}
        _config_event(request, "config_changed" if change else "config_added", obj, changed)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        old = _values(obj)
        super().delete_model(request, obj)
        _config_event(request, "config_deleted", obj, {k: {"old": v, "new": None} for k, v in old.items()})

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services may write: staff see them, nobody edits or deletes them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _values(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    return {f.attname: str(getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


def _config_event(request: HttpRequest, kind: str, obj: Any, changes: dict[str, Any]) -> None:
    data = {"model": obj._meta.label, "pk": str(obj.pk), "object": str(obj)[:200], "changes": changes}
    event_record(case=None, kind=kind, actor=Actor.staff(request.user, Role.ADMIN), data=data)


@admin.register(m.Network)
class NetworkAdmin(AuditedAdmin):
    list_display = ("slug", "name", "family", "chain_id", "confirmations", "deposits_enabled", "scan_enabled")
    list_filter = ("family", "deposits_enabled", "scan_enabled")
    search_fields = ("slug", "name")


@admin.register(m.ListedAsset)
class ListedAssetAdmin(AuditedAdmin):
    list_display = ("symbol", "network", "contract", "decimals", "min_deposit", "enabled")
    list_filter = ("network", "enabled")
    search_fields = ("symbol", "contract")


@admin.register(m.DepositAddress)
class DepositAddressAdmin(AuditedAdmin):
    """Whose deposits they are never changes here: re-assigning an owner is not an edit (the owner's
    cases, ownership proofs and notifications follow from it). Import addresses with address_import."""

    list_display = ("address", "memo", "family", "owner_ref", "derivation_index", "retired_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("family", "address", "memo", "owner_ref", "derivation_index") if obj else ()

    list_filter = ("family", ("retired_at", admin.EmptyFieldListFilter))
    search_fields = ("=address", "=owner_ref")
    show_full_result_count = False


@admin.register(m.Deposit)
class DepositAdmin(ReadOnlyAdmin):
    """What the chain said, as the scanner recorded it: read-only everywhere."""

    list_display = (
        "txid",
        "index",
        "network",
        "standard",
        "amount",
        "classification",
        "status",
        "detected_at",
    )
    list_filter = ("network", "standard", "classification", "status")
    search_fields = ("=txid", "=recipient", "=sender", "=contract")
    raw_id_fields = ("deposit_address",)
    show_full_result_count = False


class ApprovalInline(admin.TabularInline):
    model = m.Approval
    extra = 0
    can_delete = False
    readonly_fields = ("approver", "terms_digest", "case_version", "created_at")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(m.UnreadTransferLog)
class UnreadTransferLogAdmin(ReadOnlyAdmin):
    list_display = ("network", "txid", "index", "contract", "reason", "seen_at")
    list_filter = ("network",)
    search_fields = ("txid", "contract")


@admin.register(m.RecoveryCase)
class RecoveryCaseAdmin(ReadOnlyAdmin):
    list_display = (
        "short_ref",
        "state",
        "category",
        "origin",
        "network",
        "value_usd_cents",
        "sla_flag",
        "created_at",
    )
    list_filter = ("state", "category", "origin", "network", "sla_flag")
    search_fields = ("=txid", "=refund_destination", "user__username", "user__email")
    inlines = [ApprovalInline]
    show_full_result_count = False


@admin.register(m.Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("pk", "case", "network", "state", "amount", "destination", "nonce", "tx_hash", "attempts")
    list_filter = ("state", "network", "standard")
    search_fields = ("=tx_hash", "=destination", "=sender")


@admin.register(m.RefundAttempt)
class RefundAttemptAdmin(ReadOnlyAdmin):
    list_display = ("refund", "number", "tx_hash", "nonce", "outcome", "created_at")
    search_fields = ("=tx_hash",)


@admin.register(m.CaseEvent)
class CaseEventAdmin(ReadOnlyAdmin):
    list_display = ("chain", "seq", "kind", "actor_label", "from_state", "to_state", "reason", "created_at")
    list_filter = ("kind", "to_state")
    search_fields = ("=chain", "actor_label", "=hash")


@admin.register(m.EventChainHead)
class EventChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("chain", "seq", "hash")
    search_fields = ("=chain",)


@admin.register(m.CaseMessage)
class CaseMessageAdmin(ReadOnlyAdmin):
    list_display = ("case", "author", "from_staff", "internal", "created_at")
    list_filter = ("from_staff", "internal")


@admin.register(m.Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("event", "user", "channel", "subject", "sent_at")


@admin.register(m.UserProfile)
class UserProfileAdmin(ReadOnlyAdmin):
    """A profile's account_ref says whose deposit addresses are the user's: never edited here."""

    list_display = ("user", "account_ref")
    search_fields = ("=account_ref", "user__username")


@admin.register(m.ScanCursor)
class ScanCursorAdmin(ReadOnlyAdmin):
    list_display = ("network", "last_block", "updated_at")


@admin.register(m.ScannedBlock)
class ScannedBlockAdmin(ReadOnlyAdmin):
    list_display = ("network", "number", "hash")
    list_filter = ("network",)


@admin.register(m.NonceCounter)
class NonceCounterAdmin(ReadOnlyAdmin):
    list_display = ("network", "address", "next_nonce")


@admin.register(m.Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ("case", "approver", "terms_digest", "case_version", "created_at")


@admin.register(m.FeeRule)
class FeeRuleAdmin(AuditedAdmin):
    list_display = ("category", "network", "flat_usd_cents", "percent_bps", "cap_usd_cents", "active")
    list_filter = ("category", "network", "active")


@admin.register(m.ScreenedAddress)
class ScreenedAddressAdmin(AuditedAdmin):
    list_display = ("address", "family", "kind", "label", "source", "added_at")
    list_filter = ("kind", "family")
    search_fields = ("=address", "label")


@admin.register(m.TokenRule)
class TokenRuleAdmin(AuditedAdmin):
    list_display = ("contract", "network", "kind", "reason")
    list_filter = ("kind", "network")
    search_fields = ("=contract",)


@admin.register(m.SlaPolicy)
class SlaPolicyAdmin(AuditedAdmin):
    list_display = ("category", "target_hours", "warn_hours")


@admin.register(m.AssetPrice)
class AssetPriceAdmin(AuditedAdmin):
    list_display = ("symbol", "network", "contract", "usd_micros_per_unit", "updated_at")
    list_filter = ("network",)


@admin.register(m.GasTopUp)
class GasTopUpAdmin(ReadOnlyAdmin):
    list_display = ("refund", "network", "recipient", "amount", "state", "batch")
    list_filter = ("state", "network")


@admin.register(m.GasTopUpBatch)
class GasTopUpBatchAdmin(ReadOnlyAdmin):
    list_display = ("tx_hash", "network", "sender", "nonce", "recipients", "total", "state", "fee_paid")
    list_filter = ("state", "network")
    search_fields = ("=tx_hash",)


@admin.register(m.UserDestination)
class UserDestinationAdmin(ReadOnlyAdmin):
    list_display = ("user", "address", "memo", "whitelisted", "confirmed_at", "usable_after")
    search_fields = ("=address", "user__username")


@admin.register(m.OwnershipChallenge)
class OwnershipChallengeAdmin(ReadOnlyAdmin):
    list_display = ("case", "address", "method", "created_at", "expires_at", "used_at")
