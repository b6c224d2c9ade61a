"""The monthly transparency report, checked against figures computed here from the seeded cases."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from recovery.models import Approval, AssetPrice, Origin, Refund, State
from tests.factories import make_case, make_deposit, make_network

pytestmark = pytest.mark.django_db

TOKEN = "0x" + "c" * 40  # priced at $2 a whole token (18 decimals)
BSC_TOKEN = "0x" + "d" * 40  # priced at $1
MARCH = datetime(2025, 3, 10, tzinfo=UTC)


@dataclass
class Seed:
    origin: str
    category: str
    network: str
    state: str
    closed_at: datetime
    refund_usd_cents: int | None = None  # a confirmed refund with this recorded value (0: not recorded)
    refund_amount: int = 10**18
    contract: str = TOKEN
    standard: str = "erc20"
    human_approval: bool = False
    # What the report must say about it, worked out by hand: (kind, USD cents or None if unpriced).
    expected: tuple[str, int | None] | None = None


SEEDS = [
    Seed("user", "unsupported_token", "anvil", "completed", MARCH, 12_345, expected=("manual", 12_345)),
    Seed(
        "user",
        "wrong_network",
        "bsc",
        "credited",
        MARCH,
        None,
        3 * 10**18,
        BSC_TOKEN,
        expected=("manual", 300),
    ),
    Seed("auto", "unsupported_token", "anvil", "completed", MARCH, 0, 5 * 10**18, expected=("auto", 1_000)),
    Seed(
        "auto",
        "unsupported_token",
        "anvil",
        "completed",
        MARCH,
        50_000,
        human_approval=True,
        expected=("manual", 50_000),
    ),
    Seed(
        "auto", "nft", "anvil", "completed", MARCH, 0, 1, "0x" + "e" * 40, "erc721", expected=("auto", None)
    ),
    Seed(
        "auto",
        "unsupported_token",
        "anvil",
        "completed",
        datetime(2025, 3, 31, 23, 59, 59, tzinfo=UTC),
        7_000,
        expected=("auto", 7_000),
    ),
    # Outside the month or not resolved: never counted.
    Seed("user", "unsupported_token", "anvil", "completed", datetime(2025, 4, 1, tzinfo=UTC), 99_999),
    Seed(
        "user",
        "unsupported_token",
        "anvil",
        "completed",
        datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC),
        99_999,
    ),
    Seed("user", "unsupported_token", "anvil", "rejected", MARCH),
]


def seed(users) -> None:
    networks = {"anvil": make_network("anvil"), "bsc": make_network("bsc", chain_id=56, native_symbol="BNB")}
    AssetPrice.objects.create(
        network=networks["anvil"], contract=TOKEN, symbol="TKN", decimals=18, usd_micros_per_unit=2_000_000
    )
    AssetPrice.objects.create(
        network=networks["bsc"], contract=BSC_TOKEN, symbol="BTK", decimals=18, usd_micros_per_unit=1_000_000
    )
    for s in SEEDS:
        network = networks[s.network]
        deposit = make_deposit(network, contract=s.contract, standard=s.standard, amount=s.refund_amount + 1)
        case = make_case(
            network,
            users.alice if s.origin == "user" else None,
            origin=Origin(s.origin),
            category=s.category,
            state=State(s.state),
            closed_at=s.closed_at,
            deposit=deposit,
            refund_amount=s.refund_amount,
            resolution="onchain_return" if s.refund_usd_cents is not None else "account_credit",
        )
        if s.human_approval:
            Approval.objects.create(case=case, approver=users.approver1, terms_digest="t", case_version=1)
        if s.refund_usd_cents is not None:
            Refund.objects.create(
                case=case, deposit=deposit, network=network, destination=case.refund_destination,
                standard=s.standard, contract=s.contract, amount=s.refund_amount, sender=deposit.recipient,
                state="confirmed", raw_tx="0xdeadbeef", value_usd_cents=s.refund_usd_cents,
            )  # fmt: skip


def expected_lines() -> dict[tuple[str, str, str], tuple[int, int, int]]:
    """(kind, network, category) -> (cases, USD cents, unpriced), summed from the hand-worked figures."""
    lines: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for s in SEEDS:
        if s.expected is None:
            continue
        kind, cents = s.expected
        line = lines[(kind, s.network, s.category)]
        line[0] += 1
        line[1] += cents or 0
        line[2] += cents is None
    return {key: tuple(value) for key, value in lines.items()}


def test_the_report_counts_what_was_resolved_in_the_month_by_kind_network_and_category(users, capsys):
    seed(users)
    call_command("recovery_report", "--month", "2025-03", "--csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))

    lines = {
        (r["kind"], r["network"], r["category"]): (
            int(r["cases"]),
            int(r["value_usd_cents"]),
            int(r["unpriced"]),
        )
        for r in rows
        if r["network"] != "all"
    }
    assert lines == expected_lines()
    totals = {r["kind"]: (int(r["cases"]), r["value_usd"]) for r in rows if r["network"] == "all"}
    assert totals == {"manual": (3, "626.45"), "auto": (3, "80.00")}


def test_the_summary_reads_like_the_published_figures(users, capsys):
    seed(users)
    call_command("recovery_report", "--month", "2025-03")
    assert capsys.readouterr().out.splitlines()[0] == (
        "2025-03: 3 manual interventions recovered $626.45; 3 auto-return cases returned $80.00"
    )
    with pytest.raises(CommandError):
        call_command("recovery_report", "--month", "March")


def test_auditors_get_the_report_page_and_its_csv_and_agents_do_not(users, staff_client):
    seed(users)
    auditor = staff_client(users.auditor)

    page = auditor.get("/staff/reports/", {"month": "2025-03"})
    download = auditor.get("/staff/reports/csv/", {"month": "2025-03"})

    assert "3 manual interventions recovered $626.45" in page.content.decode()
    assert download["Content-Disposition"] == 'attachment; filename="recovery-report-2025-03.csv"'
    assert download.content.decode().splitlines()[0].startswith("month,kind,network,category,cases")
    assert staff_client(users.agent).get("/staff/reports/").status_code == 403
