"""A case that needs a refund destination asks the user for one, and staff can ask for it too."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import REFUND_ADDRESS_REQUEST, case_propose, open_request
from recovery.cases.notify import notify_event
from recovery.cases.user_actions import case_message_post
from recovery.cases.workflow import GuardFailed
from recovery.models import RecoveryCase, Resolution, State
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"


@pytest.fixture
def addressless(network, users):
    """An auto-detected case of alice's deposit, with no refund destination, waiting for review."""
    deposit = make_deposit(network, status="confirmed")
    return make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        deposit=deposit,
        origin="auto",
        refund_destination="",
    )


def user_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_see_the_missing_address_and_ask_for_it(addressless, users, staff_client):
    agent = staff_client(users.agent)
    page = agent.get(f"/staff/cases/{addressless.pk}/").content.decode()
    assert "No refund destination yet (ask the user for one)" in page
    assert 'id="form-request_destination"' in page

    answer = agent.post(
        f"/staff/cases/{addressless.pk}/request_destination/", {"version": addressless.version}
    )

    assert answer.status_code == 302
    addressless.refresh_from_db()
    assert addressless.state == State.NEEDS_INFO and addressless.sla_paused_at is not None
    assert open_request(addressless) == REFUND_ADDRESS_REQUEST
    page = agent.get(f"/staff/cases/{addressless.pk}/").content.decode()
    assert "Waiting for the user&#x27;s refund address." in page


def test_the_user_is_asked_by_mail_and_on_the_page_and_answers_by_setting_an_address(
    addressless, users, staff_client
):
    staff_client(users.agent).post(
        f"/staff/cases/{addressless.pk}/request_destination/", {"version": addressless.version}
    )
    asked = addressless.events.get(kind="request_info")
    notify_event(event_id=asked.pk)
    assert "set a refund address" in mail.outbox[-1].body
    assert "Waiting for your information" in mail.outbox[-1].subject
    alice = user_client(users.alice)
    url = f"/cases/{addressless.reference}/"
    page = alice.get(url).content.decode()
    assert 'id="destination-needed"' in page and "Set the refund address" in page

    alice.post(f"{url}destination/", {"refund_destination": DEST, "action": "send_code"})
    code = re.search(r"confirmation code is (\d{6})\.", mail.outbox[-1].body).group(1)
    alice.post(f"{url}destination/", {"refund_destination": DEST, "otp_code": code, "action": "change"})

    addressless.refresh_from_db()
    assert addressless.state == State.AWAITING_REVIEW and addressless.sla_paused_at is None
    assert addressless.refund_destination == DEST and addressless.destination_confirmed_at is not None
    assert 'id="destination-needed"' not in alice.get(url).content.decode()


def test_a_message_does_not_answer_a_request_for_the_address(addressless, users, staff_client):
    staff_client(users.agent).post(
        f"/staff/cases/{addressless.pk}/request_destination/", {"version": addressless.version}
    )
    case_message_post(user=users.alice, case=addressless, body="send it to my wallet please")
    addressless.refresh_from_db()
    assert addressless.state == State.NEEDS_INFO


def test_an_onchain_return_to_an_unconfirmed_user_destination_cannot_be_proposed(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW, deposit=make_deposit(network))
    RecoveryCase.objects.filter(pk=case.pk).update(destination_confirmed_at=None)
    agent = Actor.staff(users.agent, Role.AGENT)
    with pytest.raises(GuardFailed, match="not confirmed the refund destination"):
        case_propose(case_id=case.pk, actor=agent, resolution=Resolution.ONCHAIN_RETURN, refund_amount=1)
    case.refresh_from_db()
    assert case.state == State.AWAITING_REVIEW
