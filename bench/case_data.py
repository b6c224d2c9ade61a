"""Data the API benchmarks share: one heavy user's cases among many other users' cases."""

from __future__ import annotations

from typing import Any

HEAVY_USER_CASES = 2_000  # the benchmarked user's own cases; the rest belong to the other users


def heavy_user_cases(network: Any, total: int, *, other_users: int, destination: str) -> Any:
    """Bulk-create `total` cases on `network`: HEAVY_USER_CASES of them for the user `heavy` (returned, with
    a profile), the rest spread over `other_users` users. Needs Django set up."""
    from django.contrib.auth import get_user_model

    from recovery.models import RecoveryCase, UserProfile

    users = get_user_model()
    heavy = users.objects.create_user("heavy", "heavy@example.com", "bench-pass-123")
    UserProfile.objects.create(user=heavy, account_ref="ACC-heavy")
    others = users.objects.bulk_create([users(username=f"u{n}") for n in range(other_users)])
    owners = [heavy] * HEAVY_USER_CASES + [others[n % len(others)] for n in range(total - HEAVY_USER_CASES)]
    batch = []
    for n, owner in enumerate(owners):
        batch.append(
            RecoveryCase(
                origin="user",
                category="unsupported_token",
                state="awaiting_review",
                user=owner,
                network=network,
                txid=f"0x{n:064x}",
                refund_destination=destination,
            )
        )
        if len(batch) == 5_000:
            RecoveryCase.objects.bulk_create(batch)
            batch = []
    RecoveryCase.objects.bulk_create(batch)
    return heavy
