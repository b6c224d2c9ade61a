"""Who may act: the roles of the workflow, the staff groups that grant them, and the acting party."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser


class Role(enum.StrEnum):
    USER = "user"  # the case's owner
    AGENT = "agent"  # support agent: triage, request information, propose a resolution
    APPROVER = "approver"  # approve or reject
    SYSTEM = "system"  # workers and policy, no human
    ADMIN = "admin"  # administrator: configuration in the Django admin, never a step of a case


# Staff groups and the model permissions each holds (codenames on RecoveryCase unless app-qualified).
GROUP_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "support_agent": ("view_recoverycase", "work_case", "view_deposit", "view_refund", "view_caseevent"),
    "approver": (
        "view_recoverycase",
        "work_case",
        "approve_case",
        "view_deposit",
        "view_refund",
        "view_caseevent",
    ),
    "auditor": ("view_recoverycase", "view_deposit", "view_refund", "view_caseevent", "view_audit"),
    "administrator": (
        "view_recoverycase",
        "configure",
        "view_network",
        "add_network",
        "change_network",
        "view_listedasset",
        "add_listedasset",
        "change_listedasset",
        "view_depositaddress",
        "add_depositaddress",
        "view_caseevent",
        *(
            f"{verb}_{model}"
            for model in ("feerule", "screenedaddress", "tokenrule", "slapolicy", "assetprice")
            for verb in ("view", "add", "change", "delete")
        ),
    ),
}

ROLE_PERMISSION = {Role.AGENT: "recovery.work_case", Role.APPROVER: "recovery.approve_case"}


@dataclass(frozen=True)
class Actor:
    """The party a workflow step is done by: a user in a role, or the system."""

    role: Role
    user: AbstractBaseUser | None = None
    label: str = ""

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(role=Role.SYSTEM, label=label)

    @classmethod
    def case_owner(cls, user: AbstractBaseUser) -> Actor:
        return cls(role=Role.USER, user=user)

    @classmethod
    def staff(cls, user: AbstractBaseUser, role: Role) -> Actor:
        return cls(role=role, user=user)

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None

    @property
    def display(self) -> str:
        if self.user is None:
            return self.label or "system"
        return f"{self.user.get_username()} ({self.role})"

    def holds_role(self) -> bool:
        """Whether the user really has the permission the role needs (the system always does)."""
        if self.role in (Role.SYSTEM, Role.USER):
            return self.role == Role.SYSTEM or self.user is not None
        return (
            self.user is not None and self.user.is_active and self.user.has_perm(ROLE_PERMISSION[self.role])
        )
