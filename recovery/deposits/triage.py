"""Auto-return: every new deposit the exchange cannot credit is triaged by the return policy.

auto-return   -> an auto case, approved by policy, refund queued to the original sender
manual review -> an auto case waiting for staff
ignored       -> recorded with the reason (spam, dust, unpriced, airdrop mints), no case
normal credit -> left to the exchange's deposit system
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from chains.base import ChainError, TransientChainError
from recovery.audit.roles import Actor
from recovery.cases.actions import REFUND_ADDRESS_QUESTION, REFUND_ADDRESS_REQUEST, case_file
from recovery.cases.workflow import needs_refund_destination, transition
from recovery.models import (
    Category,
    Deposit,
    DepositAddress,
    DepositClass,
    DepositStatus,
    Disposition,
    Family,
    Origin,
    Resolution,
    ScreenedAddress,
    ScreeningKind,
    State,
    TokenRule,
    TokenRuleKind,
    UserProfile,
)
from recovery.onchain.pricing import price_source
from recovery.onchain.registry import chain_for

log = logging.getLogger(__name__)
TRIAGE_BACKOFF_MAX = timedelta(hours=1)
POLICY = Actor.system("auto-return policy")
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
# Gas of a refund from a deposit address: the gas wallet's top-up plus the token transfer itself.
RETURN_GAS = {
    "erc20": 21_000 + 90_000,
    "erc721": 21_000 + 120_000,
    "erc1155": 21_000 + 120_000,
    "native": 21_000,
}
BITCOIN_RETURN_VBYTES = 200

CATEGORY_OF = {
    DepositClass.UNSUPPORTED_TOKEN: Category.UNSUPPORTED_TOKEN,
    DepositClass.NFT: Category.NFT,
    DepositClass.WRONG_NETWORK: Category.WRONG_NETWORK,
    DepositClass.BELOW_MINIMUM: Category.BELOW_MINIMUM,
}


@dataclass(frozen=True)
class Decision:
    disposition: Disposition
    reason: str
    value_usd_cents: int = 0


def return_cost_usd_cents(deposit: Deposit) -> int | None:
    """What returning the deposit costs on-chain, in USD cents at the current gas price (None if unknown)."""
    network = deposit.network
    try:
        chain = chain_for(network)
        if network.family == Family.EVM:
            gas_price = chain.gas_price()
            wei = RETURN_GAS.get(deposit.standard, 150_000) * gas_price
        else:
            wei = BITCOIN_RETURN_VBYTES * chain.fee_rate()
    except ChainError:
        return None
    return price_source().usd_cents(network, "", wei)


def policy_decide(deposit: Deposit) -> Decision:
    """The return policy, in the order a human would ask the questions."""
    if deposit.classification == DepositClass.LISTED:
        return Decision(Disposition.NORMAL_CREDIT, "a listed asset: the deposit system credits it")
    if deposit.classification == DepositClass.BELOW_MINIMUM:
        return Decision(
            Disposition.MANUAL_REVIEW, "below the minimum deposit: credit once the total reaches it"
        )
    rule = TokenRule.objects.filter(network=deposit.network, contract__iexact=deposit.contract).first()
    if deposit.contract and rule is not None and rule.kind == TokenRuleKind.SPAM:
        return Decision(Disposition.IGNORED, f"spam token: {rule.reason or 'on the spam list'}")
    if deposit.sender.lower() == ZERO_ADDRESS:
        return Decision(Disposition.IGNORED, "minted straight to our address: an airdrop nobody sent")
    value = price_source().usd_cents(deposit.network, deposit.contract, deposit.amount)
    if value is None:
        return Decision(
            Disposition.IGNORED, "no price for this asset: treated as spam unless a user files a case"
        )
    cost = return_cost_usd_cents(deposit)
    if cost is None:
        return Decision(Disposition.MANUAL_REVIEW, "the cost of a return could not be estimated now", value)
    if value < cost * settings.AUTO_RETURN_COST_MARGIN:
        return Decision(Disposition.IGNORED, f"worth {value}c, returning costs about {cost}c: dust", value)
    if deposit.contract and rule is not None and rule.kind == TokenRuleKind.DENY:
        return Decision(Disposition.MANUAL_REVIEW, f"token on the deny list: {rule.reason}", value)
    if value > settings.AUTO_RETURN_LIMIT_USD_CENTS:
        return Decision(Disposition.MANUAL_REVIEW, "above the auto-return limit", value)
    problem = _sender_problem(deposit)
    if problem:
        return Decision(Disposition.MANUAL_REVIEW, problem, value)
    return Decision(Disposition.AUTO_RETURN, "eligible for auto-return to the sender", value)


def _sender_problem(deposit: Deposit) -> str:
    """Why the sender is not a safe automatic destination ('' when it is)."""
    if deposit.network.family == Family.BITCOIN and (not deposit.sender or len(deposit.senders) > 1):
        return "several input addresses (a coinjoin or a batch): whose coins they were is unclear"
    screened = ScreenedAddress.objects.filter(family=deposit.network.family, address__iexact=deposit.sender)
    kinds = set(screened.values_list("kind", flat=True))
    if ScreeningKind.SANCTIONED in kinds:
        return "the sender is on the sanctions / deny list"
    if ScreeningKind.EXCHANGE_HOT_WALLET in kinds:
        return "the sender is an exchange hot wallet: the owner must be found"
    if deposit.network.family == Family.EVM:
        try:
            if chain_for(deposit.network).is_contract(deposit.sender):
                return "the sender is a contract: it may not be able to receive or use the return"
        except ChainError:
            return "the sender could not be checked now"
    return ""


def _owner_of(address: DepositAddress | None):
    if address is None:
        return None
    profile = UserProfile.objects.filter(account_ref=address.owner_ref).select_related("user").first()
    return profile.user if profile else None


def deposit_triage(*, deposit_id: int) -> Decision | None:
    """Decide once per deposit (the row is locked and its disposition set in the same transaction)."""
    with transaction.atomic():
        deposit = (
            Deposit.objects.select_for_update(of=("self",))
            .select_related("network", "deposit_address")
            .filter(pk=deposit_id, status=DepositStatus.CONFIRMED, disposition="")
            .first()
        )
        if deposit is None:
            return None
        claimed = deposit.cases.exclude(state__in=[State.REJECTED, State.CANCELLED]).first()
        # A user filed this deposit before the scanner confirmed it: their case is the one case.
        decision = (
            Decision(Disposition.USER_CASE, f"the user filed case {claimed.short_ref}")
            if claimed is not None
            else policy_decide(deposit)
        )
        deposit.disposition, deposit.disposition_reason = decision.disposition, decision.reason[:200]
        deposit.triage_error = ""
        deposit.save(update_fields=["disposition", "disposition_reason", "triage_error"])
        if decision.disposition in (Disposition.AUTO_RETURN, Disposition.MANUAL_REVIEW):
            _auto_case_open(deposit, decision)
    log.info(
        "deposit triaged: %s (%s)", decision.disposition, decision.reason, extra={"deposit_id": deposit_id}
    )
    return decision


def deposits_triage(*, deposit_ids: list[int]) -> int:
    """Triage each deposit on its own: one that fails is parked with its error (staff see it on the
    dashboard; it is tried again with backoff) and never keeps the others of the batch from being decided.
    A transient chain error is raised once the rest are done, so the task retries the batch (deciding is
    idempotent)."""
    decided, transient = 0, None
    for deposit_id in deposit_ids:
        try:
            decided += deposit_triage(deposit_id=deposit_id) is not None
        except TransientChainError as error:
            transient = error
        except Exception as error:
            log.exception("deposit triage failed: parked", extra={"deposit_id": deposit_id})
            deposit_triage_park(deposit_id=deposit_id, error=error)
    if transient is not None:
        raise transient
    return decided


def deposit_triage_park(*, deposit_id: int, error: Exception) -> None:
    """Record why triage failed and when to try again: 1, 2, 4 ... minutes, at most TRIAGE_BACKOFF_MAX."""
    with transaction.atomic():
        deposit = Deposit.objects.select_for_update().filter(pk=deposit_id, disposition="").first()
        if deposit is None:
            return
        deposit.triage_attempts += 1
        wait = min(timedelta(minutes=2 ** (deposit.triage_attempts - 1)), TRIAGE_BACKOFF_MAX)
        deposit.triage_after = timezone.now() + wait
        deposit.triage_error = f"{type(error).__name__}: {error}"[:2000]
        deposit.save(update_fields=["triage_attempts", "triage_after", "triage_error"])


def _auto_case_open(deposit: Deposit, decision: Decision) -> None:
    case = case_file(
        origin=Origin.AUTO,
        category=CATEGORY_OF.get(DepositClass(deposit.classification), Category.UNSUPPORTED_TOKEN),
        network=deposit.network,
        txid=deposit.txid,
        actor=POLICY,
        user=_owner_of(deposit.deposit_address),
        deposit=deposit,
        claim={"detected": True, "policy": decision.reason},
        value_usd_cents=decision.value_usd_cents,
    )
    transition(case.pk, State.VERIFYING, actor=POLICY)
    if decision.disposition == Disposition.MANUAL_REVIEW:
        if case.user_id is not None and needs_refund_destination(case):
            # Staff can only propose a return once the owner says where it goes: ask them now.
            data = {"question": REFUND_ADDRESS_QUESTION, "request": REFUND_ADDRESS_REQUEST}
            transition(case.pk, State.NEEDS_INFO, actor=POLICY, reason=decision.reason[:200], data=data)
            return
        transition(case.pk, State.AWAITING_REVIEW, actor=POLICY, reason=decision.reason[:200])
        return
    proposal = {
        "resolution": Resolution.ONCHAIN_RETURN,
        "refund_destination": deposit.sender,
        "refund_amount": deposit.amount,
    }
    # Approved like any case: transition()'s follow-up work queues the refund on commit.
    transition(case.pk, State.APPROVED, actor=POLICY, changes=proposal, reason=decision.reason[:200])


def deposits_awaiting_triage() -> list[int]:
    """Confirmed deposits nobody decided on (their message was lost, or they are parked and due again)."""
    undecided = Deposit.objects.filter(status=DepositStatus.CONFIRMED, disposition="")
    due = undecided.filter(Q(triage_after__isnull=True) | Q(triage_after__lte=timezone.now()))
    return list(due.order_by("pk").values_list("pk", flat=True)[:1000])


def deposits_parked() -> QuerySet[Deposit]:
    """Deposits whose triage failed and is waiting to be tried again: for staff and /metrics."""
    return Deposit.objects.filter(disposition="", triage_attempts__gt=0).select_related("network")
