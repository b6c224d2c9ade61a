"""manage.py recovery_report --month YYYY-MM: the monthly transparency figures, as text or CSV."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.onchain.pricing import usd
from recovery.staff.report import AUTO, MANUAL, parse_month, report_build, report_csv


class Command(BaseCommand):
    help = "Manual interventions and auto-returns resolved in a month, with their USD value."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", required=True, help="YYYY-MM (UTC)")
        parser.add_argument("--csv", action="store_true", help="print CSV instead of a summary")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            month = parse_month(options["month"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        report = report_build(month=month)
        if options["csv"]:
            self.stdout.write(report_csv(report), ending="")
            return
        self.stdout.write(report.headline())
        for line in report.lines:
            self.stdout.write(
                f"  {line.kind:<6} {line.network:<16} {line.category:<18} {line.cases:>6} cases "
                f"{usd(line.value_usd_cents):>14}"
                + (f"  ({line.unpriced} unpriced)" if line.unpriced else "")
            )
        for kind in (MANUAL, AUTO):
            total = report.total(kind)
            self.stdout.write(f"  {kind:<6} total {total.cases:>6} cases {usd(total.value_usd_cents):>14}")
