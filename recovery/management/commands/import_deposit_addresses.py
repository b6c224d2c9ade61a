"""manage.py import_deposit_addresses FILE.csv: load deposit addresses from the wallet system."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.deposits.address_import import RowRejected, deposit_addresses_import


class Command(BaseCommand):
    help = "Import deposit addresses (CSV: family,address,owner_ref,derivation_index,memo). Idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv_file")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        try:
            with open(options["csv_file"], newline="", encoding="utf-8") as stream:
                report = deposit_addresses_import(stream=stream, batch_size=options["batch_size"])
        except (OSError, UnicodeDecodeError, RowRejected) as error:
            raise CommandError(f"cannot import {options['csv_file']}: {error}") from error
        for line, problem in report.rejected:
            self.stderr.write(f"line {line}: {problem}")
        self.stdout.write(
            f"read {report.read} rows: {report.inserted} new, {report.already_present} already present, "
            f"{len(report.rejected)} rejected ({time.monotonic() - started:.1f}s)"
        )
        if report.rejected:
            raise CommandError(
                f"{len(report.rejected)} malformed row(s) rejected; the valid rows were imported"
            )
