"""Staff roles as Django groups with their permissions."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from recovery.audit.roles import GROUP_PERMISSIONS


@transaction.atomic
def roles_ensure() -> dict[str, int]:
    """Create or update the staff groups so each holds exactly its permissions. Idempotent."""
    counts = {}
    for group_name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        permissions = list(
            Permission.objects.filter(content_type__app_label="recovery", codename__in=codenames)
        )
        missing = set(codenames) - {p.codename for p in permissions}
        if missing:
            raise LookupError(f"permissions {sorted(missing)} do not exist: run migrate first")
        group.permissions.set(permissions)
        counts[group_name] = len(permissions)
    return counts
