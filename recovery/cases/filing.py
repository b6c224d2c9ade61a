"""Filing a claim: look the transaction up at once, suggest the category, quote the fee, open the case."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from recovery.accounts.destinations import destination_prepare, destination_record
from recovery.accounts.errors import UserError
from recovery.audit.reasons import reason_text
from recovery.audit.roles import Actor
from recovery.cases.actions import case_file
from recovery.cases.claims import (
    MAX_NOTE,
    PROOF_QUESTION,
    QUOTE_SALT,
    Filed,
    Findings,
    FoundTransfer,
    claim_lookup,
    open_case_of,
)
from recovery.cases.ownership import ownership_proven
from recovery.cases.workflow import transition
from recovery.models import (
    Category,
    Deposit,
    DepositStatus,
    Network,
    Origin,
    RecoveryCase,
    State,
)
from recovery.models.chain import transfer_columns

# --- filing ------------------------------------------------------------------------------------


def quote_load(token: str, user: Any) -> dict[str, Any]:
    try:
        data = signing.loads(token or "", salt=QUOTE_SALT, max_age=settings.FEE_QUOTE_TTL.total_seconds())
    except signing.SignatureExpired:
        raise UserError(
            "quote_expired",
            "The fee quote expired. Look the transaction up again for a fresh quote.",
            "quote_token",
        ) from None
    except signing.BadSignature:
        raise UserError(
            "invalid_quote",
            "Look the transaction up first: a case is filed from its fee quote.",
            "quote_token",
        ) from None
    if data.get("user") != user.pk:
        raise UserError("invalid_quote", "This fee quote was made for another account.", "quote_token")
    return data


def _facts_clean(category: str, facts: dict[str, Any]) -> dict[str, str]:
    """The extra facts a category needs, bounded in size."""
    cleaned = {
        k: str(facts.get(k) or "").strip() for k in ("note", "intended_network", "memo_used", "amount")
    }
    if len(cleaned["note"]) > MAX_NOTE:
        raise UserError("too_long", f"Keep the note under {MAX_NOTE} characters.", "note")
    for key in ("intended_network", "memo_used", "amount"):
        if len(cleaned[key]) > 80:
            raise UserError("too_long", "Keep this under 80 characters.", key)
    if category == Category.WRONG_NETWORK and not cleaned["intended_network"]:
        raise UserError(
            "intended_network_required", "Tell us which network you meant to deposit on.", "intended_network"
        )
    if category == Category.MISSING_MEMO and not cleaned["memo_used"]:
        cleaned["memo_used"] = "(none)"
    return {k: v for k, v in cleaned.items() if v}


def claim_file(
    *,
    user: Any,
    quote_token: str,
    refund_destination: str,
    destination_memo: str = "",
    otp_code: str,
    accept_fee: bool,
    facts: dict[str, Any] | None = None,
) -> Filed:
    """Open a case from a quoted lookup; a deposit that already has an open case returns that case."""
    quote = quote_load(quote_token, user)
    network = Network.objects.get(slug=quote["network"])
    facts = _facts_clean(quote["category"], facts or {})
    if not accept_fee:
        raise UserError("fee_not_accepted", "Accept the fee quote to file the case.", "accept_fee")
    findings = claim_lookup(user=user, network=network, txid=quote["txid"])
    chosen = next(
        (
            f
            for f in findings.transfers
            if (f.transfer.index, f.transfer.sub_index) == (quote["index"], quote["sub_index"])
        ),
        None,
    )
    if chosen is None:
        raise UserError(
            "transfer_gone", "The chain no longer shows this transfer. Look the transaction up again."
        )
    existing = open_case_of(network, chosen.transfer)
    if existing is not None and not _squatted(existing, user, chosen):
        return duplicate(existing, user)
    destination = destination_prepare(
        user=user, network=network, address=refund_destination, memo=destination_memo, otp_code=otp_code
    )
    try:
        return open_case(user, network, findings, chosen, quote, destination.address, destination.memo, facts)
    except IntegrityError:
        # Another request filed the same deposit between our check and our insert.
        existing = open_case_of(network, chosen.transfer)
        if existing is None:
            raise
        return duplicate(existing, user)


SUPERSEDABLE = (State.VERIFYING, State.NEEDS_INFO, State.AWAITING_REVIEW)
SUPERSEDED = "superseded: the account that owns the deposit address filed for this deposit"


def _squatted(existing: RecoveryCase, user: Any, chosen: FoundTransfer) -> bool:
    """Another user's claim that still owes its ownership proof never blocks the account that owns the
    deposit address: that claim is cancelled (audited, its filer told why) and the owner files."""
    if existing.user_id == user.pk or chosen.needs_ownership_proof or existing.state not in SUPERSEDABLE:
        return False
    if not (existing.claim or {}).get("needs_ownership_proof") or ownership_proven(existing):
        return False
    transition(existing.pk, State.CANCELLED, actor=Actor.system("ownership rule"), reason=SUPERSEDED)
    return True


def duplicate(existing: RecoveryCase, user: Any) -> Filed:
    if existing.user_id == user.pk:
        return Filed(
            existing, False, f"This deposit already has your case {existing.short_ref}: follow it there."
        )
    raise UserError(
        "duplicate_case",
        reason_text("duplicate_case")
        + " It was filed from another account: if that was not you, contact support.",
        "txid",
        status=409,
    )


@transaction.atomic
def open_case(
    user: Any,
    network: Network,
    findings: Findings,
    chosen: FoundTransfer,
    quote: dict[str, Any],
    address: str,
    memo: str,
    facts: dict[str, str],
) -> Filed:
    deposit = _deposit_record(network, chosen, findings.confirmed)
    existing = open_case_of(network, chosen.transfer)
    if existing is not None:
        return duplicate(existing, user)
    owner = Actor.case_owner(user)
    claim = {
        **facts,
        "own_address": chosen.own,
        "needs_ownership_proof": chosen.needs_ownership_proof,
        "symbol": chosen.asset.symbol,
        "decimals": chosen.asset.decimals,
    }
    case = case_file(
        origin=Origin.USER,
        category=quote["category"],
        network=network,
        txid=findings.txid,
        actor=owner,
        user=user,
        deposit=deposit,
        claim=claim,
        refund_destination=address,
        destination_memo=memo,
        destination_confirmed_at=timezone.now(),  # claim_file verified the second factor for it
        fee_amount=int(quote["fee_amount"]),
        fee_quote=quote["quote"],
        value_usd_cents=int(quote["value_usd_cents"] or 0),
    )
    destination_record(user=user, family=network.family, address=address, memo=memo)
    system = Actor.system("claim verification")
    transition(case.pk, State.VERIFYING, actor=system)
    summary = {"confirmations": findings.confirmations, "deposit": deposit.pk, "class": chosen.classification}
    if chosen.needs_ownership_proof:
        transition(case.pk, State.NEEDS_INFO, actor=system, data={"question": PROOF_QUESTION, **summary})
    else:
        transition(case.pk, State.AWAITING_REVIEW, actor=system, data=summary)
    case.refresh_from_db()
    return Filed(case, True, f"Case {case.short_ref} filed. We will e-mail you at every step.")


def _deposit_record(network: Network, chosen: FoundTransfer, confirmed: bool) -> Deposit:
    """The deposit row for the claimed transfer: the same row the scanner records (unique keys)."""
    columns = transfer_columns(chosen.transfer)
    keys = {key: columns.pop(key) for key in ("txid", "index", "sub_index")}
    deposit, _ = Deposit.objects.get_or_create(
        network=network,
        **keys,
        defaults={
            **columns,
            "deposit_address": chosen.deposit_address,
            "classification": chosen.classification,
            "status": DepositStatus.CONFIRMED if confirmed else DepositStatus.PENDING,
            "confirmed_at": timezone.now() if confirmed else None,
        },
    )
    # Serialize claims of one deposit: the open-case check and the insert happen under this lock.
    return Deposit.objects.select_for_update().get(pk=deposit.pk)
