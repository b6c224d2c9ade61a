"""manage.py reconcile: what left our EVM wallets on-chain against the refunds and gas top-ups on record."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recovery.models import Network
from recovery.payouts.reconcile import ReconcileReport, networks_reconcile, networks_to_reconcile

EXIT_DISCREPANCIES = 1
EXIT_NOT_READ = 2  # no discrepancy found, but a network's node could not be read


class Command(BaseCommand):
    help = (
        "Reconcile each network's on-chain outflows with the recorded refunds and gas top-ups. Exit status "
        "1 when any network has discrepancies, 2 when none has but a node could not be read."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--network", help="Network slug; default: every scanned network and every one we paid on."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            networks = networks_to_reconcile(options["network"])
        except Network.DoesNotExist as missing:
            known = ", ".join(Network.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"unknown network {options['network']!r}; known: {known}") from missing
        if not networks:
            self.stdout.write("no network to reconcile (none is scanned or has refunds)")
            return
        reports = networks_reconcile(networks)
        for report in reports:
            self.stdout.write(report_text(report))
        if any(report.discrepancies for report in reports):
            sys.exit(EXIT_DISCREPANCIES)
        if any(not r.checked and r.family == "evm" for r in reports):
            sys.exit(EXIT_NOT_READ)


def report_text(report: ReconcileReport) -> str:
    title = f"{report.network} ({report.family})"
    if not report.checked:
        return f"{title}: NOT CHECKED: {report.note}\n"
    verdict = "CLEAN" if report.clean else f"{len(report.discrepancies)} DISCREPANCIES"
    lines = [
        f"{title}: {verdict}  [{report.seconds:.2f} s]",
        f"  sending accounts {report.accounts}, transactions on-chain {report.transactions}",
        f"  refunds checked {report.refunds_checked}, paid exactly once {report.refunds_paid_once}, "
        f"double payments {report.double_payments}",
        f"  unrecorded outflows {report.unrecorded_outflows}, mismatches {report.mismatches}",
        f"  gas wallet outflow: recorded {report.gas_wallet_outflow_recorded} wei, on-chain "
        f"{report.gas_wallet_outflow_on_chain} wei ({report.gas_batches_checked} batches)",
        f"  refund gas fees on-chain {report.refund_gas_fees_on_chain} wei",
    ]
    for asset, amount in sorted(report.refunds_paid_recorded.items()):
        fee = report.refund_fees_recorded.get(asset, 0)
        lines.append(f"  confirmed refunds in {asset}: paid {amount}, recovery fees withheld {fee}")
    lines += [f"  - {discrepancy}" for discrepancy in report.discrepancies]
    return "\n".join(lines) + "\n"
