"""The scanner: confirmed blocks of a network -> deposit rows, with stored block hashes to catch reorgs."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from chains.base import BlockRef, Chain, ScanResult, Transfer, UnreadLog
from chains.scan import scan_stage
from recovery.celery import send_on_commit
from recovery.deposits.locks import advisory_lock
from recovery.deposits.watched import watched_addresses
from recovery.models import (
    Deposit,
    DepositAddress,
    DepositStatus,
    Family,
    GasTopUpBatch,
    Network,
    ScanCursor,
    ScannedBlock,
    UnreadTransferLog,
)
from recovery.models.chain import transfer_columns
from recovery.models.fields import BaseUnitsField
from recovery.onchain.classify import Listing, deposit_class
from recovery.onchain.registry import chain_for

log = logging.getLogger(__name__)
# The message that sends new deposits to the return policy (served by deposits/tasks.py).
TRIAGE_TASK = "recovery.tasks.deposits_triage"

KEPT_BLOCK_HASHES = 512  # how far back a reorg can be followed automatically
LIVE_STATUSES = (DepositStatus.PENDING, DepositStatus.CONFIRMED)


class ReorgDetected(Exception):
    """The chain changed under the scan; the next run rewinds to the fork point."""


@dataclass
class ScanReport:
    network: str
    skipped: str = ""
    first: int | None = None
    last: int | None = None
    recorded: int = 0
    reconfirmed: int = 0
    orphaned: int = 0
    rewound_to: int | None = None
    not_ours: int = 0
    unread: int = 0  # logs naming our addresses that no decoder reads: recorded for staff
    skipped_items: list[str] = field(default_factory=list)
    new_deposit_ids: list[int] = field(default_factory=list)


def network_scan(*, network_id: int, max_batches: int = 20) -> ScanReport:
    """Scan the network from its cursor up to head minus its confirmation depth. One scanner per network."""
    network = Network.objects.get(pk=network_id)
    report = ScanReport(network.slug)
    with advisory_lock(f"scan:{network.slug}") as held:
        if not held:
            report.skipped = "another scanner holds this network's lock"
            return report
        chain = chain_for(network)
        cursor = _cursor_start(network, chain)
        fork = _reorg_fork_point(network, chain)
        if fork is not None:
            cursor = _deposits_orphan_above(network=network, fork=fork, report=report)
        watched = watched_addresses(network.family)
        head = chain.head()
        batch = int((network.options or {}).get("scan_batch", 500))
        for _ in range(max_batches):

            def record(result: ScanResult) -> None:
                _scan_result_record(network=network, result=result, report=report)

            try:
                moved = scan_stage(chain, watched, cursor, record, batch=batch, head=head)
            except ReorgDetected as reorg:
                log.warning("reorg during scan: %s", reorg, extra={"network": network.slug})
                break
            if moved == cursor:
                break
            report.first = cursor + 1 if report.first is None else report.first
            report.last = cursor = moved
    return report


def _cursor_start(network: Network, chain: Chain) -> int:
    """The last scanned block; a new network starts at its configured start block or at the confirmed head."""
    existing = ScanCursor.objects.filter(network=network).first()
    if existing is not None:
        return existing.last_block
    start = (network.options or {}).get("start_block")
    last = int(start) - 1 if start is not None else max(chain.head() - network.confirmations, -1)
    cursor, _ = ScanCursor.objects.get_or_create(network=network, defaults={"last_block": last})
    return cursor.last_block


def _reorg_fork_point(network: Network, chain: Chain) -> int | None:
    """None if the newest stored block is still on the chain; else the highest stored block that is."""
    stored = list(ScannedBlock.objects.filter(network=network).order_by("-number")[:KEPT_BLOCK_HASHES])
    for position, block in enumerate(stored):
        if chain.block_ref(block.number).hash == block.hash:
            return None if position == 0 else block.number
    return stored[-1].number - 1 if stored else None


@transaction.atomic
def _deposits_orphan_above(*, network: Network, fork: int, report: ScanReport) -> int:
    """Mark deposits of blocks above the fork point orphaned and rewind the cursor to it."""
    orphaned = Deposit.objects.filter(network=network, block_number__gt=fork, status__in=LIVE_STATUSES)
    report.orphaned += orphaned.update(status=DepositStatus.ORPHANED)
    ScannedBlock.objects.filter(network=network, number__gt=fork).delete()
    ScanCursor.objects.filter(network=network).update(last_block=fork)
    report.rewound_to = fork
    log.warning("reorg: rewound to block %s", fork, extra={"network": network.slug, "event": "reorg"})
    return fork


@transaction.atomic
def _scan_result_record(*, network: Network, result: ScanResult, report: ScanReport) -> None:
    """Record one scanned range: deposits (idempotently), block hashes and the cursor, in one transaction."""
    _check_continuity(network, result.blocks)
    found_ids = _deposits_record(network=network, transfers=result.transfers, report=report)
    lost = Deposit.objects.filter(
        network=network, status=DepositStatus.PENDING, block_number__range=(result.first, result.last)
    ).exclude(pk__in=found_ids)
    report.orphaned += lost.update(status=DepositStatus.ORPHANED)
    report.skipped_items.extend(result.skipped)
    report.unread += _unread_logs_record(network, result.unread)
    _blocks_store(network, result.blocks)
    ScanCursor.objects.filter(network=network).update(last_block=result.last, updated_at=timezone.now())


def _unread_logs_record(network: Network, logs: tuple[UnreadLog, ...]) -> int:
    """Keep every log that names our addresses but cannot be read, so nothing arrives unseen."""
    for log_ in logs:
        _, created = UnreadTransferLog.objects.get_or_create(
            network=network,
            txid=log_.txid,
            index=log_.index,
            defaults={
                "block_number": log_.block_number,
                "contract": log_.contract,
                "topics": list(log_.topics),
                "data": log_.data,
                "mentions": list(log_.mentions),
                "reason": log_.reason,
            },
        )
        if created:
            log.warning(
                "a transfer log to our address could not be read: %s",
                log_.reason,
                extra={"network": network.slug, "txid": log_.txid, "contract": log_.contract},
            )
    return len(logs)


def _check_continuity(network: Network, blocks: tuple[BlockRef, ...]) -> None:
    if not blocks:
        return
    previous = ScannedBlock.objects.filter(network=network, number=blocks[0].number - 1).first()
    if previous is not None and previous.hash != blocks[0].parent_hash:
        raise ReorgDetected(f"block {blocks[0].number} does not build on the stored block {previous.number}")


def _blocks_store(network: Network, blocks: tuple[BlockRef, ...]) -> None:
    ScannedBlock.objects.bulk_create(
        [
            ScannedBlock(network=network, number=b.number, hash=b.hash, parent_hash=b.parent_hash)
            for b in blocks
        ],
        update_conflicts=True,
        unique_fields=["network", "number"],
        update_fields=["hash", "parent_hash"],
    )
    if blocks:
        ScannedBlock.objects.filter(
            network=network, number__lte=blocks[-1].number - KEPT_BLOCK_HASHES
        ).delete()


def _deposits_record(*, network: Network, transfers: tuple[Transfer, ...], report: ScanReport) -> list[int]:
    """Create new deposit rows; confirm existing ones (from a user's claim, or re-mined after a reorg).

    Returns the ids of every deposit seen in this range.
    """
    owners = _deposit_owners(network, {t.recipient for t in transfers})
    existing = {
        (d.txid, d.index, d.sub_index): d
        for d in Deposit.objects.filter(network=network, txid__in={t.txid for t in transfers})
    }
    listing = Listing.of(network)
    internal = _internal_senders(network)
    top_up_txids = _own_top_up_txids(network, {t.txid for t in transfers})
    now = timezone.now()
    new_rows, seen_ids = [], []
    for transfer in transfers:
        if transfer.sender in internal or transfer.txid.lower() in top_up_txids:
            report.skipped_items.append(f"{transfer.txid}:{transfer.index} our own gas top-up")
            continue
        owner = owners.get(transfer.recipient)
        if owner is None:  # a digest collision in the watched set, or an address removed since
            report.not_ours += 1
            continue
        if transfer.amount <= 0:
            report.skipped_items.append(
                f"{transfer.txid}:{transfer.index} zero-value transfer (address poisoning)"
            )
            continue
        row = existing.get((transfer.txid, transfer.index, transfer.sub_index))
        if row is not None:
            _deposit_reconfirm(row, transfer, now, report)
            seen_ids.append(row.pk)
            continue
        new_rows.append(_deposit_from(network, transfer, owner, listing, now))
    created = _deposits_insert(network, new_rows) if new_rows else []
    report.recorded += len(created)
    report.new_deposit_ids.extend(created)
    if created:
        _triage_on_commit(created)
    return seen_ids + created


def _deposits_insert(network: Network, rows: list[dict[str, Any]]) -> list[int]:
    """Insert new deposit rows and return their ids. On PostgreSQL through COPY: the ORM's per-field SQL
    building was most of the scanner's time. A row a user claim inserted meanwhile fails the range, which
    is then rescanned."""
    if connection.vendor != "postgresql":
        return [d.pk for d in Deposit.objects.bulk_create(Deposit(**row) for row in rows)]
    fields = [f for f in Deposit._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY recovery_deposit ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([_copy_value(f, row[f.attname]) for f in fields])
    keys = {(row["txid"], row["index"], row["sub_index"]) for row in rows}
    inserted = Deposit.objects.filter(network=network, txid__in={row["txid"] for row in rows})
    return [pk for pk, *key in inserted.values_list("pk", "txid", "index", "sub_index") if tuple(key) in keys]


def _copy_value(field: models.Field, value: Any) -> Any:
    """A Python value as COPY takes it: JSON wrapped, base units as exact decimals."""
    if value is None:
        return None
    if isinstance(field, models.JSONField):
        return Jsonb(value)
    if isinstance(field, BaseUnitsField):
        return Decimal(value)
    return value


def _internal_senders(network: Network) -> set[str]:
    """The exchange's own wallets whose payments to deposit addresses are not deposits (gas top-ups)."""
    if network.family != Family.EVM:
        return set()
    from recovery.onchain.signers import evm_signer

    return {evm_signer().gas_wallet_address()}


def _own_top_up_txids(network: Network, txids: set[str]) -> set[str]:
    """Which of these transactions are our gas top-up batches: their internal transfers come from the
    disperse contract, which anyone may also call to make a real deposit, so the sender alone cannot tell."""
    if network.family != Family.EVM or not txids:
        return set()
    candidates = {txid.lower() for txid in txids}
    batches = GasTopUpBatch.objects.filter(network=network, tx_hash__in=candidates)
    return {txid.lower() for txid in batches.values_list("tx_hash", flat=True)}


def _triage_on_commit(deposit_ids: list[int]) -> None:
    """New deposits go to the return policy once they are committed (a lost message: the sweeper)."""
    send_on_commit(TRIAGE_TASK, deposit_ids)


def _deposit_owners(network: Network, recipients: set[str]) -> dict[str, int]:
    """Deposit address ids by address: the exact check behind the watched set's digest hits."""
    owners: dict[str, int] = {}
    rows = DepositAddress.objects.filter(family=network.family, address__in=recipients).order_by("memo")
    for address, pk in rows.values_list("address", "pk"):
        owners.setdefault(address, pk)  # the address's own (memo-less) row first
    return owners


def _deposit_from(
    network: Network, transfer: Transfer, owner_id: int, listing: Listing, now
) -> dict[str, Any]:
    """A new deposit row as field values (building model instances cost more than writing them)."""
    columns = transfer_columns(transfer)
    return dict(
        network_id=network.pk,
        **columns,
        deposit_address_id=owner_id,
        classification=deposit_class(
            network=network,
            listing=listing,
            standard=columns["standard"],
            contract=columns["contract"],
            amount=transfer.amount,
            tokens=columns["tokens"],
        ),
        status=DepositStatus.CONFIRMED,
        disposition="",
        disposition_reason="",
        triage_error="",
        triage_attempts=0,
        triage_after=None,
        detected_at=now,
        confirmed_at=now,
    )


def _deposit_reconfirm(row: Deposit, transfer: Transfer, now, report: ScanReport) -> None:
    if row.status == DepositStatus.CONFIRMED and row.block_hash == (transfer.block_hash or ""):
        return
    row.status = DepositStatus.CONFIRMED
    row.block_number, row.block_hash = transfer.block_number, transfer.block_hash or ""
    row.confirmed_at = row.confirmed_at or now
    row.save(update_fields=["status", "block_number", "block_hash", "confirmed_at"])
    report.reconfirmed += 1
