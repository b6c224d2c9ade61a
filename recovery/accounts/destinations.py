"""Refund destinations are withdrawals: validated, screened, confirmed by a second factor, cooled off."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chains.base import ChainError, InvalidAddress
from recovery.accounts.errors import UserError
from recovery.accounts.second_factor import email_code_send, second_factor_verify
from recovery.audit.events import event_record
from recovery.audit.reasons import reason_text
from recovery.audit.roles import Actor
from recovery.models import (
    Family,
    Network,
    RecoveryCase,
    ScreenedAddress,
    ScreeningKind,
    UserDestination,
    UserProfile,
)
from recovery.onchain.addressing import normalize_for_network
from recovery.onchain.registry import chain_for

FIELD = "refund_destination"
MAX_MEMO = 64
# How a refund's wait for a new destination's cooling-off period begins: the one refusal that time settles.
COOLING_OFF = "the destination is new: cooling off"


@dataclass(frozen=True)
class Destination:
    address: str
    memo: str
    warnings: list[dict[str, str]] = field(default_factory=list)


def _memo_rule(network: Network) -> str:
    """'none' (EVM, Bitcoin), 'optional' or 'required' (tag networks), from Network.options['memo']."""
    return (network.options or {}).get("memo", "none")


def destination_normalize(*, network: Network, address: str, memo: str = "") -> tuple[str, str]:
    """The canonical address and memo for the network, or a UserError saying what is wrong."""
    text, memo = (address or "").strip(), (memo or "").strip()
    if not text:
        raise UserError("destination_required", "Enter the address the refund should be sent to.", FIELD)
    if len(text) > 100:
        raise UserError("invalid_destination", "That address is too long for any supported network.", FIELD)
    try:
        canonical = normalize_for_network(network.slug, network.family, text)
    except (InvalidAddress, KeyError) as error:
        hint = "Copy the address again from your wallet's receive screen, for this very network."
        raise UserError(
            "invalid_destination", f"Not a valid {network.name} address: {error}. {hint}", FIELD
        ) from None
    rule = _memo_rule(network)
    if memo and rule == "none":
        raise UserError(
            "memo_not_allowed", f"{network.name} addresses take no memo or tag: leave it empty.", "memo"
        )
    if not memo and rule == "required":
        raise UserError("memo_required", f"{network.name} needs the memo or tag of your wallet.", "memo")
    if len(memo) > MAX_MEMO or (memo and not memo.isprintable()):
        raise UserError("invalid_memo", f"A memo or tag is at most {MAX_MEMO} plain characters.", "memo")
    return canonical, memo


def destination_screen(*, network: Network, address: str) -> list[dict[str, str]]:
    """Warnings about a destination; a sanctioned or deny-listed one is refused outright."""
    screened = {
        row.kind: row
        for row in ScreenedAddress.objects.filter(family=network.family, address__iexact=address)
    }
    if ScreeningKind.SANCTIONED in screened:
        raise UserError("sanctioned_destination", reason_text("sanctioned_destination"), FIELD)
    warnings = []
    if ScreeningKind.EXCHANGE_HOT_WALLET in screened:
        label = screened[ScreeningKind.EXCHANGE_HOT_WALLET].label or "an exchange"
        warnings.append(
            {
                "code": "exchange_hot_wallet",
                "message": f"This is a hot wallet of {label}. Exchanges often cannot credit refunds sent "
                "to their hot wallets: use your own wallet or your deposit address there.",
            }
        )
    if ScreeningKind.CONTRACT in screened or is_contract(network, address):
        warnings.append(
            {
                "code": "contract",
                "message": "This address is a smart contract. Tokens sent to a contract can be lost unless "
                "it is a wallet contract you control.",
            }
        )
    return warnings


def is_contract(network: Network, address: str) -> bool:
    if network.family != Family.EVM:
        return False
    try:
        chain = chain_for(network)
        return bool(chain.is_contract(address))  # type: ignore[attr-defined]
    except ChainError:
        return False  # the chain is unreachable: staff screen the destination again before paying


def _destination_purpose(family: str, address: str, memo: str) -> str:
    """What an e-mailed code confirms: this very destination (hashed: EmailCode.purpose is 40 characters)."""
    return "dest:" + hashlib.sha256(f"{family}|{address}|{memo}".encode()).hexdigest()[:32]


def whitelist_check(*, user: Any, family: str, address: str, memo: str) -> None:
    profile = UserProfile.objects.filter(user=user).first()
    if profile is None or not profile.whitelist_only:
        return
    listed = UserDestination.objects.filter(
        user=user, family=family, address=address, memo=memo, whitelisted=True
    ).exists()
    if not listed:
        raise UserError(
            "not_whitelisted",
            "You only allow withdrawals to your whitelist, and this address is not on it. Add it to your "
            "whitelist first (it becomes usable after the cooling-off period).",
            FIELD,
        )


def destination_prepare(
    *, user: Any, network: Network, address: str, memo: str, otp_code: str
) -> Destination:
    """Everything a destination must pass before a case may hold it (no write but a used one-time code)."""
    address, memo = destination_normalize(network=network, address=address, memo=memo)
    warnings = destination_screen(network=network, address=address)
    whitelist_check(user=user, family=network.family, address=address, memo=memo)
    second_factor_verify(
        user=user, code=otp_code, purpose=_destination_purpose(network.family, address, memo)
    )
    return Destination(address, memo, warnings)


def destination_record(*, user: Any, family: str, address: str, memo: str) -> UserDestination:
    """The user's destination row; a new one starts its cooling-off period now."""
    now = timezone.now()
    row, _ = UserDestination.objects.get_or_create(
        user=user,
        family=family,
        address=address,
        memo=memo,
        defaults={"confirmed_at": now, "usable_after": now + settings.DESTINATION_COOLING_OFF},
    )
    return row


@transaction.atomic
def whitelist_add(
    *, user: Any, network: Network, address: str, memo: str, label: str, otp_code: str
) -> UserDestination:
    """Put an address on the whitelist (second factor); it is usable after a cooling-off counted from now."""
    address, memo = destination_normalize(network=network, address=address, memo=memo)
    destination_screen(network=network, address=address)
    second_factor_verify(
        user=user, code=otp_code, purpose=_destination_purpose(network.family, address, memo)
    )
    now = timezone.now()
    row = destination_record(user=user, family=network.family, address=address, memo=memo)
    if not row.whitelisted:
        # Whitelisting is a new permission to pay: its cooling-off starts now, also for a row whose clock
        # ran out long ago (an address removed from the whitelist before, or used as a plain destination).
        row.usable_after = max(row.usable_after, now + settings.DESTINATION_COOLING_OFF)
    row.whitelisted, row.label = True, (label or "")[:80]
    row.save(update_fields=["whitelisted", "label", "usable_after"])
    _whitelist_event("whitelist_added", user, row, usable_after=row.usable_after.isoformat())
    return row


@transaction.atomic
def whitelist_remove(*, user: Any, destination_id: int) -> UserDestination:
    """Take one of the user's own addresses off the whitelist; the row stays (cases may name it).

    No second factor: removing only narrows what can be paid. Another user's entry, an unknown id and an
    address not on the whitelist are all the same "not found", so nothing leaks about other users.
    """
    row = (
        UserDestination.objects.select_for_update()
        .filter(pk=destination_id, user=user, whitelisted=True)
        .first()
    )
    if row is None:
        raise UserError(
            "whitelist_entry_not_found",
            "That address is not on your whitelist: reload the security page and try again.",
            status=404,
        )
    row.whitelisted = False
    row.save(update_fields=["whitelisted"])
    _whitelist_event("whitelist_removed", user, row)
    return row


def _whitelist_event(kind: str, user: Any, row: UserDestination, **extra: Any) -> None:
    """A whitelist change on the audit log's system chain."""
    data = {
        "user": user.get_username(),
        "destination": row.pk,
        "family": row.family,
        "address": row.address,
        "memo": row.memo,
        "label": row.label,
    }
    event_record(case=None, kind=kind, actor=Actor.case_owner(user), data={**data, **extra})


@transaction.atomic
def whitelist_only_set(*, user: Any, enabled: bool, otp_code: str) -> UserProfile:
    second_factor_verify(user=user, code=otp_code, purpose=f"whitelist_only:{int(enabled)}")
    profile = UserProfile.objects.select_for_update().get(user=user)
    profile.whitelist_only = enabled
    profile.save(update_fields=["whitelist_only"])
    event_record(
        case=None,
        kind="whitelist_only_set",
        actor=Actor.case_owner(user),
        data={"user": user.get_username(), "enabled": enabled},
    )
    return profile


def destination_usable(case: RecoveryCase) -> tuple[bool, str]:
    """May a refund to the case's destination be signed now? For the refund executor, right before signing."""
    if not case.refund_destination:
        return False, "the case has no refund destination"
    family = case.network.family
    sanctioned = ScreenedAddress.objects.filter(
        family=family, address__iexact=case.refund_destination, kind=ScreeningKind.SANCTIONED
    ).exists()
    if sanctioned:
        return False, "the destination is on the sanctions / deny list"
    if case.user_id is None:
        return True, "no user: the destination is the original sender"
    if case.destination_confirmed_at is None:
        return False, "the user has not confirmed the destination with their second factor"
    row = UserDestination.objects.filter(
        user_id=case.user_id, family=family, address=case.refund_destination, memo=case.destination_memo
    ).first()
    if row is None:
        return False, "the destination is not among the user's confirmed destinations"
    profile = UserProfile.objects.filter(user_id=case.user_id).first()
    if profile is not None and profile.whitelist_only and not row.whitelisted:
        return False, "the user allows only whitelisted destinations"
    if timezone.now() < row.usable_after:
        return False, f"{COOLING_OFF} until {row.usable_after.isoformat()}"
    return True, "ok"


def destination_code_send(
    *, user: Any, network: Network, address: str, memo: str, client_ip: str | None
) -> None:
    """E-mail a code that confirms exactly this destination (for users without an authenticator)."""
    address, memo = destination_normalize(network=network, address=address, memo=memo)
    email_code_send(
        user=user, purpose=_destination_purpose(network.family, address, memo), client_ip=client_ip
    )


def whitelist_only_code_send(*, user: Any, enabled: bool, client_ip: str | None) -> None:
    email_code_send(user=user, purpose=f"whitelist_only:{int(enabled)}", client_ip=client_ip)
