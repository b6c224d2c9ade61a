"""Money policy that needs two administrators: one asks for a change, a second one applies it.

Owner re-assignment (whose deposits an address's are), the screened list and fee rules change only this
way. A request changes nothing; applying it is refused to the administrator who asked; both steps are
audited on the system chain with the old and the new values.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db import models, transaction
from django.utils import timezone

from recovery.audit.events import event_record
from recovery.audit.roles import Actor, Role
from recovery.models import ConfigChangeAction, PendingConfigChange


class SecondAdministratorRequired(Exception):
    """The administrator who asked for a change cannot also apply it."""


def field_values(obj: models.Model | None) -> dict[str, str | None]:
    """The object's concrete fields as text (None stays None), keyed by attname."""
    if obj is None:
        return {}
    return {
        f.attname: None if f.value_from_object(obj) is None else f.value_to_string(obj)
        for f in obj._meta.concrete_fields
        if not f.primary_key
    }


@transaction.atomic
def change_request(*, user: Any, obj: models.Model, action: str) -> PendingConfigChange:
    """File `action` on `obj` (as the admin form left it, unsaved) for a second administrator."""
    stored = type(obj).objects.filter(pk=obj.pk).first() if obj.pk is not None else None
    change = PendingConfigChange.objects.create(
        model=obj._meta.label,
        object_pk="" if obj.pk is None else str(obj.pk),
        action=action,
        values={} if action == ConfigChangeAction.DELETE else field_values(obj),
        old_values=field_values(stored),
        requested_by=user,
    )
    _audit(user, "config_change_requested", change)
    return change


def change_apply(*, change_id: int, user: Any) -> models.Model | None:
    """Apply a requested change as the second administrator; returns the object (None when deleted)."""
    change = PendingConfigChange.objects.get(pk=change_id, applied_at__isnull=True)
    if change.requested_by_id == user.pk:
        _audit(user, "config_change_refused", change)  # kept: the refusal does not roll it back
        raise SecondAdministratorRequired("a second administrator must apply a change you asked for")
    return _apply(change, user)


@transaction.atomic
def _apply(change: PendingConfigChange, user: Any) -> models.Model | None:
    change = PendingConfigChange.objects.select_for_update().get(pk=change.pk, applied_at__isnull=True)
    model = apps.get_model(change.model)
    obj = model.objects.select_for_update().get(pk=change.object_pk) if change.object_pk else model()
    if change.action == ConfigChangeAction.DELETE:
        obj.delete()
        obj = None
    else:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        for attname, text in change.values.items():
            setattr(obj, attname, None if text is None else fields[attname].to_python(text))
        obj.full_clean()
        obj.save()
    change.applied_by, change.applied_at = user, timezone.now()
    change.save(update_fields=["applied_by", "applied_at"])
    _audit(user, "config_change_applied", change)
    return obj


def _audit(user: Any, kind: str, change: PendingConfigChange) -> None:
    data = {
        "change": change.pk,
        "model": change.model,
        "pk": change.object_pk,
        "action": change.action,
        "old": change.old_values,
        "new": change.values,
        "requested_by": change.requested_by.get_username(),
    }
    event_record(case=None, kind=kind, actor=Actor.staff(user, Role.ADMIN), data=data)
