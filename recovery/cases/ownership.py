"""Ownership proofs: the sender signs a challenge bound to network, txid, case, destination, nonce, expiry."""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chains.base import InvalidAddress
from chains.bitcoin.network import network_by_name
from chains.signed_messages import (
    BadSignature,
    key_hash_of,
    verify_bip322_simple,
    verify_eip191,
    verify_legacy,
)
from recovery.accounts.errors import UserError
from recovery.audit.events import event_record
from recovery.audit.roles import Actor
from recovery.cases.workflow import transition
from recovery.models import Family, OwnershipChallenge, RecoveryCase, State

METHODS = {Family.EVM: ("eip191",), Family.BITCOIN: ("bip322", "legacy")}
PROVABLE_STATES = (State.SUBMITTED, State.VERIFYING, State.NEEDS_INFO, State.AWAITING_REVIEW)
MAX_SIGNATURE = 2000


def sender_addresses(case: RecoveryCase) -> list[str]:
    deposit = case.deposit
    if deposit is None:
        return []
    addresses = [deposit.sender] if deposit.sender else []
    return addresses + [a for a in deposit.senders or [] if a not in addresses]


def _default_method(case: RecoveryCase, address: str) -> str:
    if case.network.family == Family.EVM:
        return "eip191"
    try:
        kind, _ = key_hash_of(address, network_by_name(case.network.slug))
    except (BadSignature, InvalidAddress, KeyError):
        return "legacy"
    return "bip322" if kind == "p2wpkh" else "legacy"


def _challenge_text(case: RecoveryCase, address: str, nonce: str, expires: Any) -> str:
    destination = case.refund_destination + (
        f" (memo {case.destination_memo})" if case.destination_memo else ""
    )
    return (
        "Deposit recovery: ownership proof\n"
        f"I control {address} and ask that my deposit be returned to {destination}.\n"
        f"Network: {case.network.slug}\n"
        f"Transaction: {case.txid}\n"
        f"Case: {case.reference}\n"
        f"Nonce: {nonce}\n"
        f"Expires: {expires.isoformat(timespec='seconds')}"
    )


@transaction.atomic
def challenge_issue(
    *, user: Any, case: RecoveryCase, address: str = "", method: str = ""
) -> OwnershipChallenge:
    """A fresh challenge for the case's sending address; the user signs its message in their wallet."""
    if case.state not in PROVABLE_STATES:
        raise UserError(
            "proof_not_needed", "This case is past review: an ownership proof can no longer change it."
        )
    senders = sender_addresses(case)
    if not senders:
        raise UserError(
            "no_sender", "The deposit's sender is not known, so no address can be proven. Message support."
        )
    address = (address or senders[0]).strip()
    if address not in senders:
        raise UserError("not_a_sender", "Choose the address the deposit was sent from.", "address")
    if not case.refund_destination:
        raise UserError("destination_required", "Set a refund destination first: the proof names it.")
    method = method or _default_method(case, address)
    if method not in METHODS.get(case.network.family, ()):
        raise UserError("invalid_method", "Choose a signing method this network supports.", "method")
    nonce = secrets.token_hex(16)
    expires = timezone.now() + settings.OWNERSHIP_CHALLENGE_TTL
    return OwnershipChallenge.objects.create(
        case=case,
        address=address,
        destination=case.refund_destination,
        nonce=nonce,
        message=_challenge_text(case, address, nonce, expires),
        method=method,
        expires_at=expires,
    )


def _signature_check(challenge: OwnershipChallenge, network_slug: str, signature: str) -> None:
    if challenge.method == "eip191":
        verify_eip191(challenge.address, challenge.message, signature)
        return
    network = network_by_name(network_slug)
    if challenge.method == "bip322":
        verify_bip322_simple(challenge.address, challenge.message, signature, network)
    else:
        verify_legacy(challenge.address, challenge.message, signature, network)


def challenge_answer(*, user: Any, case: RecoveryCase, nonce: str, signature: str) -> RecoveryCase:
    """Verify a signed challenge once; a used, expired or outdated one is refused."""
    signature = (signature or "").strip()
    if not signature or len(signature) > MAX_SIGNATURE:
        raise UserError("invalid_signature", "Paste the signature your wallet produced.", "signature")
    with transaction.atomic():
        challenge = (
            OwnershipChallenge.objects.select_for_update()
            .filter(case=case, nonce=(nonce or "").strip()[:64])
            .first()
        )
        if challenge is None:
            raise UserError(
                "unknown_challenge", "No such challenge for this case: request a new one.", "nonce"
            )
        _refuse_stale(challenge, case)
        try:
            _signature_check(challenge, case.network.slug, signature)
        except BadSignature as error:
            raise UserError(
                "bad_signature",
                f"The signature does not prove control of {challenge.address}: {error}. "
                "Sign the exact message with that address's wallet.",
                "signature",
            ) from None
        challenge.used_at, challenge.signature = timezone.now(), signature
        challenge.save(update_fields=["used_at", "signature"])
        owner = Actor.case_owner(user)
        event_record(
            case=case,
            kind="ownership_proven",
            actor=owner,
            data={"address": challenge.address, "method": challenge.method, "nonce": challenge.nonce},
        )
        if RecoveryCase.objects.get(pk=case.pk).state == State.NEEDS_INFO:
            transition(case.pk, State.VERIFYING, actor=owner, data={"answer": "ownership proof"})
            transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system("ownership proof"))
    case.refresh_from_db()
    return case


def _refuse_stale(challenge: OwnershipChallenge, case: RecoveryCase) -> None:
    if challenge.used_at is not None:
        raise UserError(
            "challenge_used", "This challenge was already used. Request a new one.", "nonce", status=409
        )
    if challenge.expires_at <= timezone.now():
        raise UserError(
            "challenge_expired", "This challenge expired. Request a new one and sign it.", "nonce"
        )
    if challenge.destination != case.refund_destination:
        raise UserError(
            "challenge_outdated",
            "The refund destination changed since this challenge: request a new one.",
            "nonce",
        )
    if case.state not in PROVABLE_STATES:
        raise UserError(
            "proof_not_needed", "This case is past review: an ownership proof can no longer change it."
        )


def ownership_proven(case: RecoveryCase) -> bool:
    return case.challenges.filter(used_at__isnull=False, destination=case.refund_destination).exists()
