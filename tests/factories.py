"""Test data builders. Cases are put into a state directly only to test the workflow from that state."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from recovery.accounts.staff_roles import roles_ensure
from recovery.models import Deposit, Network, Origin, RecoveryCase, State, UserProfile

_counter = itertools.count(1)


def make_network(slug: str = "anvil", **fields: Any) -> Network:
    defaults = dict(name=slug.title(), family="evm", chain_id=31337, confirmations=2, native_symbol="ETH")
    defaults.update(fields)
    network, _ = Network.objects.get_or_create(slug=slug, defaults=defaults)
    return network


def make_user(username: str, *, group: str | None = None, staff: bool = False):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "a-strong-pass-123")
    if group:
        user.is_staff = True
        user.save()
        user.groups.add(Group.objects.get(name=group))
    UserProfile.objects.get_or_create(user=user, defaults={"account_ref": f"ACC-{username}"})
    return get_user_model().objects.get(pk=user.pk)  # fresh: no cached permissions


def make_staff_and_users() -> SimpleNamespace:
    roles_ensure()
    return SimpleNamespace(
        alice=make_user("alice"),
        bob=make_user("bob"),
        agent=make_user("agent", group="support_agent"),
        approver1=make_user("approver1", group="approver"),
        approver2=make_user("approver2", group="approver"),
        auditor=make_user("auditor", group="auditor"),
    )


def make_deposit(network: Network, **fields: Any) -> Deposit:
    n = next(_counter)
    defaults = dict(
        txid=f"0x{n:064x}",
        index=0,
        block_number=100 + n,
        block_hash=f"0x{n + 1000:064x}",
        sender="0x1111111111111111111111111111111111111111",
        recipient="0x2222222222222222222222222222222222222222",
        standard="erc20",
        contract="0x3333333333333333333333333333333333333333",
        amount=10**18,
    )
    defaults.update(fields)
    return Deposit.objects.create(network=network, **defaults)


def make_case(network: Network, user=None, *, state: State = State.SUBMITTED, **fields: Any) -> RecoveryCase:
    defaults = dict(
        origin=Origin.USER,
        category="unsupported_token",
        txid=f"0x{next(_counter):064x}",
        refund_destination="0x4444444444444444444444444444444444444444",
        # As filed: the user confirmed the destination with their second factor.
        destination_confirmed_at=timezone.now() if user is not None else None,
    )
    defaults.update(fields)
    return RecoveryCase.objects.create(network=network, user=user, state=state, **defaults)


def make_authenticator(user, *, days_ago: float = 30, **fields: Any):
    """A confirmed TOTP authenticator added `days_ago` (past its cooling-off by default)."""
    from datetime import timedelta

    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=user, name=fields.pop("name", "phone"), confirmed=True, **fields)
    TOTPDevice.objects.filter(pk=device.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    device.refresh_from_db()
    return device
