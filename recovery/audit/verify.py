"""Periodic verification of the audit log."""

from __future__ import annotations

import logging

from recovery.audit.events import event_log_verify

log = logging.getLogger(__name__)


def audit_log_check() -> int:
    """Verify every event chain; log each broken one as an error. Returns the number of broken chains."""
    breaks = event_log_verify()
    for brk in breaks:
        log.error("audit log chain broken: %s", brk, extra={"event": "audit_break"})
    return len(breaks)
