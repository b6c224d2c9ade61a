"""Structured (one JSON object per line) logging, carrying case and refund ids when given in `extra`."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

CONTEXT_KEYS = (
    "case_id",
    "refund_id",
    "deposit_id",
    "network",
    "txid",
    "task_id",
    "event",
    "account",
    "nonce",
    "kind",
    "batch_id",
)


class StructuredFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
