"""The audit page: read-only events, filters, and the verification that names a tampered row."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import get_resolver

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_request_info
from recovery.cases.workflow import transition
from recovery.models import CaseEvent, State
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def tamper(sql: str, params: list) -> None:
    """What someone with superuser rights could do: switch the append-only triggers off and edit a row."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def worked_case(network, users):
    case = make_case(network, users.alice, state=State.SUBMITTED)
    transition(case.pk, State.VERIFYING, actor=Actor.system("verifier"))
    case_request_info(case_id=case.pk, actor=Actor.staff(users.agent, Role.AGENT), question="Which wallet?")
    return case


def test_the_auditor_sees_events_filtered_and_a_clean_verification(worked_case, users, staff_client):
    auditor = staff_client(users.auditor)

    page = auditor.get("/staff/audit/")
    filtered = auditor.get("/staff/audit/", {"kind": "request_info", "actor": "agent"})
    by_case = auditor.get("/staff/audit/", {"case": worked_case.short_ref})

    assert "Every chain verifies" in page.content.decode() and page.context["breaks"] == []
    assert [e.kind for e in filtered.context["page"]] == ["request_info"]
    assert sorted(e.kind for e in by_case.context["page"]) == ["request_info", "start_verification"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering with triggers off is PostgreSQL's")
def test_a_tampered_event_is_named_by_the_page_and_the_command(worked_case, users, staff_client, capsys):
    victim = CaseEvent.objects.get(case=worked_case, seq=2)
    tamper("UPDATE recovery_caseevent SET reason = %s WHERE id = %s", ["nothing to see", victim.pk])

    html = staff_client(users.auditor).get("/staff/audit/").content.decode()
    with pytest.raises(SystemExit):
        call_command("verify_audit_log")

    named = f"case:{worked_case.pk} #2 (event {victim.pk})"
    assert named in html and "1 chain broken" in html
    assert named in capsys.readouterr().out


def test_the_audit_page_is_for_auditors_and_offers_no_edit_or_delete(worked_case, users, staff_client):
    assert staff_client(users.agent).get("/staff/audit/").status_code == 403
    auditor = staff_client(users.auditor)
    assert auditor.post("/staff/audit/").status_code == 405
    html = auditor.get("/staff/audit/").content.decode()
    assert html.count('method="post"') == 1 and 'action="/staff/logout/"' in html  # only logging out
    staff_routes = [str(p.pattern) for p in get_resolver("recovery.staff.urls").url_patterns]
    assert not [route for route in staff_routes if "event" in route or "delete" in route or "edit" in route]
