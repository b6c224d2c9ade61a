"""The audit log: append-only at the database, hash-chained, and the verifier names the first broken link."""

from __future__ import annotations

import itertools

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from recovery.audit.events import event_chain_verify, event_log_verify, event_record
from recovery.audit.roles import Actor
from recovery.cases.workflow import transition
from recovery.models import CaseEvent, State
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def case_with_events(network, users, count: int = 3):
    case = make_case(network, users.alice)
    transition(case.pk, State.VERIFYING, actor=Actor.system())
    transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system())
    for n in range(count - 2):
        event_record(case=case, kind="note", actor=Actor.system(), data={"n": n})
    return case


def test_each_event_carries_the_hash_of_the_one_before(network, users):
    case = case_with_events(network, users, count=4)
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    assert event_chain_verify(f"case:{case.pk}") is None


@pytest.mark.parametrize(
    "statement", ["UPDATE recovery_caseevent SET reason = 'x'", "DELETE FROM recovery_caseevent"]
)
def test_the_database_refuses_update_and_delete_of_events(network, users, statement):
    case_with_events(network, users)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert CaseEvent.objects.count() == 3


def test_the_orm_cannot_delete_an_event_either(network, users):
    case_with_events(network, users)
    with pytest.raises(DatabaseError), transaction.atomic():
        CaseEvent.objects.all().delete()


def tamper(sql: str, params: list) -> None:
    """What an attacker with superuser rights could do: switch the triggers off and edit."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = origin")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering with triggers off is PostgreSQL's")
def test_the_verifier_names_an_edited_event(network, users, capsys):
    case = case_with_events(network, users, count=4)
    victim = CaseEvent.objects.get(case=case, seq=2)
    tamper("UPDATE recovery_caseevent SET reason = %s WHERE id = %s", ["edited", victim.pk])

    breaks = event_log_verify()

    assert [(b.chain, b.seq, b.event_id) for b in breaks] == [(f"case:{case.pk}", 2, victim.pk)]
    assert "altered" in breaks[0].problem
    with pytest.raises(SystemExit):
        call_command("verify_audit_log")
    assert f"event {victim.pk}" in capsys.readouterr().out


@pytest.mark.skipif(connection.vendor != "postgresql", reason="tampering with triggers off is PostgreSQL's")
def test_the_verifier_notices_a_removed_last_event(network, users):
    case = case_with_events(network, users, count=4)
    tamper("DELETE FROM recovery_caseevent WHERE case_id = %s AND seq = 4", [case.pk])

    [brk] = event_log_verify()

    assert brk.event_id is None and "head says 4" in brk.problem


def test_a_clean_log_verifies_through_the_command(network, users, capsys):
    case_with_events(network, users)
    call_command("verify_audit_log")
    assert "all 1 chain(s) verify" in capsys.readouterr().out
