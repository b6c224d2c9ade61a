"""Bulk import of deposit addresses from the exchange's wallet system (CSV), idempotent and streaming."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from chains.base import InvalidAddress
from recovery.models import DepositAddress, Family
from recovery.onchain.addressing import normalize_address

COLUMNS = ("family", "address", "owner_ref", "derivation_index", "memo")
BATCH_SIZE = 5000


@dataclass
class ImportReport:
    read: int = 0
    inserted: int = 0
    already_present: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


class RowRejected(ValueError):
    pass


def _parse_row(row: dict[str, str]) -> DepositAddress:
    family = (row.get("family") or "").strip().lower()
    if family not in Family.values:
        raise RowRejected(f"unknown family {family!r} (expected one of {', '.join(Family.values)})")
    try:
        address = normalize_address(family, row.get("address") or "")
    except InvalidAddress as error:
        raise RowRejected(f"invalid {family} address: {error}") from None
    owner_ref = (row.get("owner_ref") or "").strip()
    if not owner_ref or len(owner_ref) > 64:
        raise RowRejected("owner_ref must be 1 to 64 characters")
    index_text = (row.get("derivation_index") or "").strip()
    if index_text and not index_text.isdigit():
        raise RowRejected(f"derivation_index {index_text!r} is not a non-negative integer")
    memo = (row.get("memo") or "").strip()
    if len(memo) > 64:
        raise RowRejected("memo is longer than 64 characters")
    return DepositAddress(
        family=family,
        address=address,
        owner_ref=owner_ref,
        derivation_index=int(index_text) if index_text else None,
        memo=memo,
    )


def _read_rows(stream: TextIO, report: ImportReport) -> Iterator[DepositAddress]:
    reader = csv.DictReader(stream)
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise RowRejected(f"the header lacks column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
    for row in reader:
        report.read += 1
        try:
            if None in row:
                raise RowRejected("more fields than the header names")
            yield _parse_row(row)
        except RowRejected as error:
            report.rejected.append((reader.line_num, str(error)))


def batches(rows: Iterable[DepositAddress], size: int) -> Iterator[list[DepositAddress]]:
    batch: list[DepositAddress] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def deposit_addresses_import(*, stream: TextIO, batch_size: int = BATCH_SIZE) -> ImportReport:
    """Load every valid row; rows already present (same family, address, memo) are left as they are.

    Each batch commits on its own, so a rerun after an interruption continues where it stopped.
    """
    report = ImportReport()
    before = DepositAddress.objects.count()
    for batch in batches(_read_rows(stream, report), batch_size):
        DepositAddress.objects.bulk_create(batch, ignore_conflicts=True)
    report.inserted = DepositAddress.objects.count() - before
    report.already_present = report.read - len(report.rejected) - report.inserted
    return report
