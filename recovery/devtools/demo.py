"""Demo data for the embedded default: networks, staff of each role, a user with deposit addresses."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction

from chains.evm.signer import LocalHDSigner
from recovery.accounts.staff_roles import roles_ensure
from recovery.cases.sla_flags import sla_policies_ensure
from recovery.models import DepositAddress, UserProfile

# Deposit-address derivation indices start high so they never collide with anvil's funded accounts (0-9).
DEMO_INDEX_BASE = 1000


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("alice", "alice-recovers-1", "user"),
    DemoLogin("bob", "bob-recovers-1", "user"),
    DemoLogin("agent", "agent-works-1", "support_agent"),
    DemoLogin("approver1", "approver-one-1", "approver"),
    DemoLogin("approver2", "approver-two-1", "approver"),
    DemoLogin("auditor", "auditor-reads-1", "auditor"),
    DemoLogin("admin", "admin-configures-1", "administrator"),
    DemoLogin(
        "admin2", "admin-configures-2", "administrator"
    ),  # the second of two for owners, screening, fees
)


@transaction.atomic
def demo_seed(*, addresses_per_user: int = 3) -> list[DemoLogin]:
    """Idempotent: networks and listed assets, roles, demo logins, EVM deposit addresses per demo user."""
    if settings.PRODUCTION:
        raise RuntimeError("demo data is never seeded in production")
    call_command("loaddata", "networks", verbosity=0)
    roles_ensure()
    sla_policies_ensure()
    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    users = get_user_model()
    for number, login in enumerate(DEMO_LOGINS):
        user, created = users.objects.get_or_create(
            username=login.username, defaults={"email": f"{login.username}@example.com"}
        )
        if created:
            user.set_password(login.password)
        user.is_staff = login.role != "user"
        user.is_superuser = login.role == "administrator"
        user.save()
        if login.role != "user":
            user.groups.set([Group.objects.get(name=login.role)])
            continue
        profile, _ = UserProfile.objects.get_or_create(
            user=user, defaults={"account_ref": f"ACC-{login.username}"}
        )
        for offset in range(addresses_per_user):
            index = DEMO_INDEX_BASE + number * 100 + offset
            DepositAddress.objects.get_or_create(
                family="evm",
                address=signer.address(index),
                memo="",
                defaults={"owner_ref": profile.account_ref, "derivation_index": index},
            )
    return list(DEMO_LOGINS)
