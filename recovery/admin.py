"""Django admin: configuration and read access for staff. The event log is read-only here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from recovery import models as m
from recovery.audit import config_changes
from recovery.audit.events import event_record
from recovery.audit.roles import Actor, Role
from recovery.models import ConfigChangeAction


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


class TwoAdministratorsAdmin(AuditedAdmin):
    """Changes here are requests: a second administrator applies them (Pending config changes)."""

    two_administrators_for_additions = True

    def _requested(self, request: HttpRequest, obj: Any, change: bool) -> bool:
        return change or self.two_administrators_for_additions

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not self._requested(request, obj, change):
            super().save_model(request, obj, form, change)
            return
        filed = config_changes.change_request(
            user=request.user, obj=obj, action=ConfigChangeAction.CHANGE if change else ConfigChangeAction.ADD
        )
        request._config_change = filed  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        filed = config_changes.change_request(user=request.user, obj=obj, action=ConfigChangeAction.DELETE)
        request._config_change = filed  # type: ignore[attr-defined]

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return (
            None if getattr(request, "_config_change", None) else super().log_addition(request, obj, message)
        )

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None if getattr(request, "_config_change", None) else super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        return None

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None) -> Any:
        return self._response_filed(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> Any:
        return self._response_filed(request) or super().response_change(request, obj)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> Any:
        return self._response_filed(request) or super().response_delete(request, obj_display, obj_id)

    def _response_filed(self, request: HttpRequest) -> Any:
        filed = getattr(request, "_config_change", None)
        if filed is None:
            return None
        self.message_user(
            request,
            f'Nothing changed yet: "{filed}" waits for a second administrator to apply it.',
            messages.WARNING,
        )
        return HttpResponseRedirect(reverse("admin:recovery_pendingconfigchange_changelist"))


@admin.register(m.PendingConfigChange)
class PendingConfigChangeAdmin(ReadOnlyAdmin):
    list_display = ("pk", "action", "model", "object_pk", "requested_by", "requested_at", "applied_by")
    list_filter = ("applied_at", "model")
    actions = ["apply_changes"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return obj is None  # the changelist and its action; a request itself is never edited

    @admin.action(description="Apply the selected changes (as the second administrator)")
    def apply_changes(self, request: HttpRequest, queryset: Any) -> None:
        for change in queryset.filter(applied_at__isnull=True):
            try:
                config_changes.change_apply(change_id=change.pk, user=request.user)
                self.message_user(request, f"Applied: {change}.")
            except (config_changes.SecondAdministratorRequired, ValidationError) as refused:
                self.message_user(request, f"Not applied: {change}: {refused}", messages.ERROR)


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
class DepositAddressAdmin(TwoAdministratorsAdmin):
    """Re-assigning whose deposits an address's are (its owner_ref) is a request a second administrator
    applies; the address, memo and key index never change once created. New addresses are added at once
    (audited); bulk imports use address_import."""

    list_display = ("address", "memo", "family", "owner_ref", "derivation_index", "retired_at")
    two_administrators_for_additions = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("family", "address", "memo", "derivation_index") if obj else ()

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
class FeeRuleAdmin(TwoAdministratorsAdmin):
    list_display = ("category", "network", "flat_usd_cents", "percent_bps", "cap_usd_cents", "active")
    list_filter = ("category", "network", "active")


@admin.register(m.ScreenedAddress)
class ScreenedAddressAdmin(TwoAdministratorsAdmin):
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
