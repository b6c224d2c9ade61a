"""The monthly transparency report: manual interventions and auto-returns resolved, and their USD value."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.db.models import Exists, OuterRef, Prefetch

from recovery.models import Approval, Origin, RecoveryCase, Refund, RefundState, State
from recovery.onchain.pricing import price_source, usd

MANUAL, AUTO = "manual", "auto"
RESOLVED_STATES = (State.COMPLETED, State.CREDITED)
CSV_HEADER = ["month", "kind", "network", "category", "cases", "value_usd_cents", "value_usd", "unpriced"]


@dataclass
class ReportLine:
    kind: str
    network: str
    category: str
    cases: int = 0
    value_usd_cents: int = 0
    unpriced: int = 0


@dataclass
class MonthlyReport:
    month: date
    lines: list[ReportLine] = field(default_factory=list)

    def total(self, kind: str) -> ReportLine:
        line = ReportLine(kind, "all", "all")
        for item in self.lines:
            if item.kind == kind:
                line.cases += item.cases
                line.value_usd_cents += item.value_usd_cents
                line.unpriced += item.unpriced
        return line

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"

    def headline(self) -> str:
        manual, auto = self.total(MANUAL), self.total(AUTO)
        return (
            f"{self.label}: {manual.cases} manual interventions recovered {usd(manual.value_usd_cents)}; "
            f"{auto.cases} auto-return cases returned {usd(auto.value_usd_cents)}"
        )


def parse_month(text: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}", text or ""):
        raise ValueError(f"a month is written YYYY-MM, not {text!r}")
    year, month = (int(part) for part in text.split("-"))
    if not 1 <= month <= 12:
        raise ValueError(f"no month {month}")
    return date(year, month, 1)


def _month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) in UTC, the zone the figures are published in."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _case_kind(case: RecoveryCase) -> str:
    """Manual: filed by a user, or any human approved it. Auto: detected and returned with no human."""
    return MANUAL if case.origin == Origin.USER or case.has_human_approval else AUTO


def _case_value(case: RecoveryCase) -> int | None:
    """USD cents that reached the user, or None if nothing prices it.

    A refund counts at its value when it was made; when that was not recorded (0), at the pricing
    source's price now. A credit counts at the pricing source's value of the credited amount.
    """
    refunds = case.confirmed_refunds
    if refunds:
        values = [
            r.value_usd_cents or price_source().usd_cents(r.network, r.contract, r.amount) for r in refunds
        ]
        return None if any(v is None for v in values) else sum(values)
    if case.refund_amount is None:
        return None
    contract = case.deposit.contract if case.deposit else ""
    return price_source().usd_cents(case.network, contract, case.refund_amount)


def _resolved_cases(month: date):
    start, end = _month_bounds(month)
    return (
        RecoveryCase.objects.filter(state__in=RESOLVED_STATES, closed_at__gte=start, closed_at__lt=end)
        .select_related("network", "deposit")
        .annotate(has_human_approval=Exists(Approval.objects.filter(case=OuterRef("pk"))))
        .prefetch_related(
            Prefetch(
                "refunds",
                queryset=Refund.objects.filter(state=RefundState.CONFIRMED).select_related("network"),
                to_attr="confirmed_refunds",
            )
        )
        .order_by("pk")
    )


def report_build(*, month: date) -> MonthlyReport:
    """The figures of one month, one line per kind, network and category."""
    lines: dict[tuple[str, str, str], ReportLine] = {}
    for case in _resolved_cases(month).iterator(chunk_size=500):
        key = (_case_kind(case), case.network.slug, case.category)
        line = lines.setdefault(key, ReportLine(*key))
        line.cases += 1
        value = _case_value(case)
        if value is None:
            line.unpriced += 1
        else:
            line.value_usd_cents += value
    return MonthlyReport(month=month, lines=[lines[key] for key in sorted(lines)])


def report_csv(report: MonthlyReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    rows = defaultdict(list)
    for line in report.lines:
        rows[line.kind].append(line)
    for kind in (MANUAL, AUTO):
        for line in [*rows[kind], report.total(kind)]:
            cents = line.value_usd_cents
            dollars = f"{cents // 100}.{cents % 100:02d}"
            row = [report.label, kind, line.network, line.category, line.cases, cents, dollars, line.unpriced]
            writer.writerow(row)
    return out.getvalue()
