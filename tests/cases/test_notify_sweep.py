"""Lost notification messages: the sweeper finds user-visible events nobody mailed, and mails each once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.cases.notify import notifications_due, notify_event
from recovery.models import CaseEvent, Notification
from tests.factories import make_case, make_network, make_user

pytestmark = pytest.mark.django_db
LATE, DAY = timedelta(minutes=10), timedelta(days=1)


def filed_case(age: timedelta, *, email: str = "carol@example.com", kind: str = "filed"):
    user = make_user("carol")
    user.email = email
    user.save(update_fields=["email"])
    case = make_case(make_network(), user)
    event = CaseEvent.objects.create(
        chain=f"case:{case.pk}",
        seq=1,
        case=case,
        kind=kind,
        actor_label="carol",
        to_state="submitted",
        created_at=timezone.now() - age,
        prev_hash="0" * 64,
        hash=f"{case.pk:064x}",
    )
    return case, event


def test_an_unmailed_event_is_due_once_late_and_not_after_it_is_mailed(mailoutbox):
    _, event = filed_case(timedelta(minutes=15))
    assert notifications_due(older_than=LATE, within=DAY) == [event.pk]

    notify_event(event_id=event.pk)
    notify_event(event_id=event.pk)  # the sweeper and a late original message both run: one e-mail

    assert len(mailoutbox) == 1 and Notification.objects.filter(event=event).count() == 1
    assert notifications_due(older_than=LATE, within=DAY) == []


@pytest.mark.parametrize(
    ("age", "email", "kind"),
    [
        (timedelta(minutes=2), "carol@example.com", "filed"),  # its own message may still be on the way
        (timedelta(days=3), "carol@example.com", "filed"),  # old history is never mailed late
        (timedelta(minutes=15), "", "filed"),  # no address to mail
        (timedelta(minutes=15), "carol@example.com", "approval_given"),  # staff-internal: never mailed
    ],
)
def test_what_is_not_due(age, email, kind):
    filed_case(age, email=email, kind=kind)
    assert notifications_due(older_than=LATE, within=DAY) == []
