"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from recovery.audit.roles import Actor
from recovery.models import GENESIS_HASH, CaseEvent, EventChainHead, RecoveryCase

SYSTEM_CHAIN = "system"


def _chain_of(case: RecoveryCase | None) -> str:
    return f"case:{case.pk}" if case is not None else SYSTEM_CHAIN


def _event_digest(event: CaseEvent) -> str:
    """The hash of an event's content and its predecessor's hash (canonical JSON, SHA-256)."""
    content = {
        "chain": event.chain,
        "seq": event.seq,
        "case": event.case_id,
        "kind": event.kind,
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "from": event.from_state,
        "to": event.to_state,
        "reason": event.reason,
        "data": event.data,
        "at": event.created_at.isoformat(),
        "prev": event.prev_hash,
    }
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@transaction.atomic
def event_record(
    *,
    case: RecoveryCase | None,
    kind: str,
    actor: Actor,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """Append one event to its chain. The chain head row is locked, so appends to one chain serialize."""
    chain = _chain_of(case)
    EventChainHead.objects.get_or_create(chain=chain)
    head = EventChainHead.objects.select_for_update().get(chain=chain)
    event = CaseEvent(
        chain=chain,
        seq=head.seq + 1,
        case=case,
        kind=kind,
        actor=actor.user,
        actor_label=actor.display,
        from_state=from_state,
        to_state=to_state,
        reason=reason[:200],
        data=json.loads(json.dumps(data or {}, default=str)),
        created_at=timezone.now(),
        prev_hash=head.hash,
    )
    event.hash = _event_digest(event)
    event.save(force_insert=True)
    head.seq, head.hash = event.seq, event.hash
    head.save(update_fields=["seq", "hash"])
    return event


@dataclass(frozen=True)
class ChainBreak:
    chain: str
    seq: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "chain head"
        return f"{self.chain} #{self.seq} ({where}): {self.problem}"


def event_chain_verify(chain: str) -> ChainBreak | None:
    """The first broken link of one chain, or None if every event and the head agree."""
    prev_hash, expected_seq = GENESIS_HASH, 1
    for event in CaseEvent.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
        if event.seq != expected_seq:
            return ChainBreak(
                chain, expected_seq, event.pk, f"sequence jumps to {event.seq}: an event is missing"
            )
        if event.prev_hash != prev_hash:
            return ChainBreak(chain, event.seq, event.pk, "prev_hash does not match the previous event")
        if _event_digest(event) != event.hash:
            return ChainBreak(
                chain, event.seq, event.pk, "content does not match its hash: the event was altered"
            )
        prev_hash, expected_seq = event.hash, expected_seq + 1
    head = EventChainHead.objects.filter(chain=chain).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    if head_seq != expected_seq - 1 or head_hash != prev_hash:
        return ChainBreak(
            chain, head_seq, None, f"head says {head_seq} events, the log holds {expected_seq - 1}"
        )
    return None


def event_log_verify() -> list[ChainBreak]:
    """Verify every chain; one break (the first) per broken chain."""
    chains = set(EventChainHead.objects.values_list("chain", flat=True))
    chains |= set(CaseEvent.objects.values_list("chain", flat=True).distinct())
    return [brk for chain in sorted(chains) if (brk := event_chain_verify(chain)) is not None]
