"""Reads for the staff pages: the filtered queue, a case's evidence file, dashboard figures, the audit log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from recovery.cases.workflow import approvals_required, terms_digest, valid_approver_ids
from recovery.deposits.triage import deposits_parked
from recovery.models import (
    CLOSED_STATES,
    Approval,
    CaseEvent,
    Deposit,
    Network,
    RecoveryCase,
    ScreenedAddress,
    State,
    UnreadTransferLog,
)
from recovery.onchain.registry import chain_for

log = logging.getLogger(__name__)

SLA_FILTERS = ("on_time", "near", "breached", "paused")


# --- the queue ------------------------------------------------------------------------------------


def queue_cases(
    *,
    state: str = "",
    category: str = "",
    network: str = "",
    origin: str = "",
    sla: str = "",
    min_usd_cents: int | None = None,
    max_usd_cents: int | None = None,
    assignee: Any = None,
    unassigned: bool = False,
    search: str = "",
) -> QuerySet[RecoveryCase]:
    """Cases for the queue. No state means the open ones; "all" means every case; else that state."""
    cases = RecoveryCase.objects.select_related("network", "assignee", "user")
    if state == "all":
        pass
    elif state:
        cases = cases.filter(state=state)
    else:
        cases = cases.exclude(state__in=CLOSED_STATES)
    if category:
        cases = cases.filter(category=category)
    if network:
        cases = cases.filter(network__slug=network)
    if origin:
        cases = cases.filter(origin=origin)
    cases = _filter_sla(cases, sla)
    if min_usd_cents is not None:
        cases = cases.filter(value_usd_cents__gte=min_usd_cents)
    if max_usd_cents is not None:
        cases = cases.filter(value_usd_cents__lte=max_usd_cents)
    if unassigned:
        cases = cases.filter(assignee__isnull=True)
    elif assignee is not None:
        cases = cases.filter(assignee=assignee)
    if search:
        search = search.strip()
        cases = cases.filter(Q(txid__iexact=search) | Q(reference__istartswith=search.lower()))
    # Most urgent first: breached, near, then by deadline.
    return cases.order_by("sla_due_at", "created_at")


def _filter_sla(cases: QuerySet[RecoveryCase], sla: str) -> QuerySet[RecoveryCase]:
    if sla == "paused":
        return cases.filter(sla_paused_at__isnull=False)
    if sla in ("near", "breached"):
        return cases.filter(sla_flag=sla)
    if sla == "on_time":
        return cases.filter(sla_flag="", sla_paused_at__isnull=True)
    return cases


def case_workers() -> QuerySet:
    """Active staff who can work cases: the people a case can be assigned to."""
    users = get_user_model().objects.filter(is_active=True)
    holds = (
        Q(groups__permissions__codename="work_case")
        | Q(user_permissions__codename="work_case")
        | Q(is_superuser=True)
    )
    return users.filter(holds).distinct().order_by("username")


def queue_networks() -> QuerySet[Network]:
    return Network.objects.order_by("slug")


# --- one case's evidence --------------------------------------------------------------------------


@dataclass
class ChainEvidence:
    deposit: Deposit | None
    transfers: list[Deposit]
    required_confirmations: int
    confirmations: int | None = None
    note: str = ""


@dataclass
class DestinationScreening:
    address: str
    hits: list[ScreenedAddress]
    is_contract: bool | None = None
    equals_sender: bool | None = None
    note: str = ""


@dataclass
class Duplicate:
    case: RecoveryCase
    why: list[str]


@dataclass
class ApprovalStatus:
    needed: int
    have: int
    threshold_usd_cents: int
    approvals: list[Approval] = field(default_factory=list)
    current_terms: str = ""


@dataclass
class CaseFile:
    case: RecoveryCase
    chain: ChainEvidence
    screening: DestinationScreening
    duplicates: list[Duplicate]
    timeline: list[CaseEvent]
    approval: ApprovalStatus
    net_amount: int | None


@dataclass
class ChainProbe:
    head: int | None = None
    is_contract: bool | None = None
    note: str = ""


def _chain_probe(network: Network, destination: str) -> ChainProbe:
    """Ask the chain for its head and whether the destination holds code; an unreachable chain is a note."""
    probe = ChainProbe()
    try:
        chain = chain_for(network)
        probe.head = chain.head()
        is_contract = getattr(chain, "is_contract", None)
        if destination and is_contract is not None:
            probe.is_contract = bool(is_contract(destination))
        elif destination:
            probe.note = f"{network.family} has no contract accounts to check"
    except Exception as error:  # the page must render whatever the node does; the note says what failed
        log.info("chain unreachable for the case view", extra={"network": network.slug})
        probe.note = f"chain not reachable: {type(error).__name__}: {error}"[:300]
    return probe


def case_evidence(case_id: int) -> CaseFile:
    case = RecoveryCase.objects.select_related("network", "deposit", "user", "assignee", "proposed_by").get(
        pk=case_id
    )
    probe = _chain_probe(case.network, case.refund_destination)
    return CaseFile(
        case=case,
        chain=_chain_evidence(case, probe),
        screening=_destination_screening(case, probe),
        duplicates=_duplicates_of(case),
        timeline=list(case.events.select_related("actor").order_by("seq")),
        approval=_approval_status(case),
        net_amount=(case.deposit.amount - case.fee_amount) if case.deposit else None,
    )


def _chain_evidence(case: RecoveryCase, probe: ChainProbe) -> ChainEvidence:
    deposit = case.deposit
    transfers = list(
        Deposit.objects.filter(network=case.network, txid__iexact=case.txid).order_by("index", "sub_index")
    )
    evidence = ChainEvidence(deposit, transfers, case.network.confirmations, note=probe.note)
    if deposit is not None and deposit.block_number is not None and probe.head is not None:
        evidence.confirmations = max(0, probe.head - deposit.block_number + 1)
    return evidence


def _destination_screening(case: RecoveryCase, probe: ChainProbe) -> DestinationScreening:
    address = case.refund_destination
    hits = (
        list(ScreenedAddress.objects.filter(family=case.network.family, address__iexact=address))
        if address
        else []
    )
    sender = case.deposit.sender if case.deposit else ""
    return DestinationScreening(
        address=address,
        hits=hits,
        is_contract=probe.is_contract,
        equals_sender=(address.lower() == sender.lower()) if address and sender else None,
        note=probe.note,
    )


def _duplicates_of(case: RecoveryCase) -> list[Duplicate]:
    """Other cases of the same user, transaction, deposit, refund destination or sending address."""
    combined = Q(network=case.network, txid__iexact=case.txid)
    if case.user_id:
        combined |= Q(user_id=case.user_id)
    if case.deposit_id:
        combined |= Q(deposit_id=case.deposit_id)
    if case.refund_destination:
        combined |= Q(refund_destination__iexact=case.refund_destination)
    sender = case.deposit.sender if case.deposit else ""
    if sender:
        combined |= Q(deposit__sender__iexact=sender)
    others = RecoveryCase.objects.filter(combined).exclude(pk=case.pk).select_related("network", "deposit")
    return [Duplicate(other, _shared_with(case, other)) for other in others.order_by("-created_at")[:50]]


def _shared_with(case: RecoveryCase, other: RecoveryCase) -> list[str]:
    sender = case.deposit.sender.lower() if case.deposit and case.deposit.sender else ""
    checks = (
        ("same transaction", other.network_id == case.network_id and other.txid.lower() == case.txid.lower()),
        ("same user", case.user_id is not None and other.user_id == case.user_id),
        ("same deposit", case.deposit_id is not None and other.deposit_id == case.deposit_id),
        (
            "same destination",
            bool(case.refund_destination)
            and other.refund_destination.lower() == case.refund_destination.lower(),
        ),
        (
            "same sender",
            bool(sender) and other.deposit is not None and other.deposit.sender.lower() == sender,
        ),
    )
    return [label for label, hit in checks if hit]


def _approval_status(case: RecoveryCase) -> ApprovalStatus:
    digest = terms_digest(case)
    return ApprovalStatus(
        needed=approvals_required(case),
        have=len(valid_approver_ids(case)),
        threshold_usd_cents=settings.TWO_APPROVER_THRESHOLD_USD_CENTS,
        approvals=list(case.approvals.select_related("approver").order_by("created_at")),
        current_terms=digest,
    )


# --- the dashboard --------------------------------------------------------------------------------

AGE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("under 1 day", timedelta(days=1)),
    ("1-3 days", timedelta(days=3)),
    ("3-7 days", timedelta(days=7)),
    ("over 7 days", None),
)


@dataclass
class Dashboard:
    open_by_state: list[tuple[str, str, int]]
    by_age: list[tuple[str, int]]
    near: int
    breached: int
    paused: int
    open_total: int
    oldest_breaches: list[RecoveryCase]
    parked_deposits: list[Deposit]
    unread_logs: list[UnreadTransferLog]


def dashboard_figures(now: datetime | None = None) -> Dashboard:
    now = now or timezone.now()
    open_cases = RecoveryCase.objects.exclude(state__in=CLOSED_STATES)
    counts = dict(open_cases.values_list("state").annotate(n=Count("pk")))
    by_state = [(s.value, s.label, counts[s.value]) for s in State if counts.get(s.value)]
    by_age, lower = [], None
    for label, upper in AGE_BUCKETS:
        bucket = open_cases
        if upper is not None:
            bucket = bucket.filter(created_at__gt=now - upper)
        if lower is not None:
            bucket = bucket.filter(created_at__lte=now - lower)
        by_age.append((label, bucket.count()))
        lower = upper
    return Dashboard(
        open_by_state=by_state,
        by_age=by_age,
        near=open_cases.filter(sla_flag="near").count(),
        breached=open_cases.filter(sla_flag="breached").count(),
        paused=open_cases.filter(sla_paused_at__isnull=False).count(),
        open_total=open_cases.count(),
        oldest_breaches=list(
            open_cases.filter(sla_flag="breached").select_related("network").order_by("sla_due_at")[:10]
        ),
        parked_deposits=list(deposits_parked().order_by("triage_after")[:50]),
        unread_logs=list(UnreadTransferLog.objects.select_related("network").order_by("-seen_at")[:50]),
    )


# --- the audit log --------------------------------------------------------------------------------


def audit_events(
    *,
    kind: str = "",
    actor: str = "",
    case: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[CaseEvent]:
    """Events newest first, filtered; `case` is a case id or the start of its reference."""
    events = CaseEvent.objects.select_related("case")
    if kind:
        events = events.filter(kind=kind)
    if actor:
        events = events.filter(actor_label__icontains=actor)
    if case:
        case = case.strip()
        by_ref = Q(case__reference__istartswith=case.lower())
        events = events.filter(Q(case_id=int(case)) | by_ref if case.isdigit() else by_ref)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-pk")


def audit_event_kinds() -> list[str]:
    return list(CaseEvent.objects.order_by("kind").values_list("kind", flat=True).distinct())
