"""The words fit their subject: an auto case says we detected it, and an e-mail's subject matches its body."""

from __future__ import annotations

import pytest
from django.core import mail

from recovery.audit.roles import Actor
from recovery.cases.actions import case_file
from recovery.cases.notify import notify_event
from recovery.cases.selectors import case_timeline
from recovery.cases.workflow import transition
from recovery.models import Origin, State
from tests.factories import make_deposit

pytestmark = pytest.mark.django_db


def detected_case(network, user):
    policy = Actor.system("auto-return policy")
    deposit = make_deposit(network, status="confirmed")
    return case_file(
        origin=Origin.AUTO, category="unsupported_token", network=network, txid=deposit.txid,
        actor=policy, user=user, deposit=deposit,
    )  # fmt: skip


def test_an_auto_detected_case_says_we_detected_it_not_that_you_filed_it(network, users):
    case = detected_case(network, users.alice)
    first = case_timeline(case)[0]
    assert first.sentence.startswith("We detected a deposit")
    assert "You filed" not in first.sentence


def test_a_late_email_describes_its_event_not_the_state_reached_since(network, users):
    case = detected_case(network, users.alice)
    filed = case.events.get(kind="filed")
    transition(case.pk, State.VERIFYING, actor=Actor.system("test"))
    transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system("test"))

    notify_event(event_id=filed.pk)

    message = mail.outbox[-1]
    assert message.subject.endswith("Submitted")
    assert "The case is now: Submitted." in message.body
    assert "Awaiting review" not in message.body
    assert "We detected a deposit" in message.body
