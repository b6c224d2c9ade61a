"""Chain-independent scanning steps: the confirmed range to scan next, shrinking on RangeTooLarge."""

from __future__ import annotations

from collections.abc import Callable

from chains.base import Chain, RangeTooLarge, ScanResult, WatchedAddresses


def scan_range_end(cursor: int, head: int, confirmations: int, batch: int) -> int:
    """The last block of the next scan, for `cursor` = the last block already scanned.

    Nothing to scan while the result is <= cursor. Confirmed means at least `confirmations` blocks on top.
    """
    return min(head - confirmations, cursor + batch)


def scan_shrinking(chain: Chain, first: int, last: int, watched: WatchedAddresses) -> ScanResult:
    """Scan [first, last]; on RangeTooLarge halve the range and retry, down to one block.

    The result may cover less than asked (result.last < last): the caller advances its cursor to result.last.
    """
    end = last
    while True:
        try:
            return chain.scan(first, end, watched)
        except RangeTooLarge:
            if end <= first:
                raise
            end = first + (end - first + 1) // 2 - 1


def scan_stage(
    chain: Chain,
    watched: WatchedAddresses,
    cursor: int,
    record: Callable[[ScanResult], None],
    *,
    batch: int,
    head: int | None = None,
) -> int:
    """One step of the scanner: scan the next confirmed range after `cursor`, hand it to `record`.

    Returns the new cursor (unchanged when nothing is confirmed yet). `record` runs before the cursor moves,
    so a crash inside it rescans the same range: recording must be idempotent (the deposit unique key).
    """
    head = chain.head() if head is None else head
    last = scan_range_end(cursor, head, chain.confirmations, batch)
    if last <= cursor:
        return cursor
    result = scan_shrinking(chain, cursor + 1, last, watched)
    record(result)
    return result.last
