"""The case page: plain-language timeline, next step, messages, refunds, cancel; the e-mail links to it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from recovery.audit.roles import Actor, Role
from recovery.cases.notify import notify_event
from recovery.cases.workflow import transition
from recovery.models import CaseEvent, CaseMessage, Refund, State
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db


def test_rejection_shows_the_plain_language_reason(network, users, alice):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    transition(
        case, State.REJECTED, actor=Actor.staff(users.approver1, Role.APPROVER), reason="sent_to_contract"
    )

    page = alice.get(f"/cases/{case.reference}/").content.decode()

    assert "The case was rejected." in page
    assert "The funds went to a smart contract" in page


def test_internal_staff_notes_are_never_shown(network, users, alice):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    CaseMessage.objects.create(case=case, author=users.agent, from_staff=True, body="Visible reply to alice")
    CaseMessage.objects.create(
        case=case, author=users.agent, from_staff=True, internal=True, body="INTERNAL fraud flag"
    )

    page = alice.get(f"/cases/{case.reference}/").content.decode()
    api = alice.get(f"/api/cases/{case.reference}/").content.decode()

    assert "Visible reply to alice" in page and "Visible reply to alice" in api
    assert "INTERNAL fraud flag" not in page and "INTERNAL fraud flag" not in api


def test_the_refund_transaction_links_to_the_explorer(network, users, alice):
    network.explorer_tx_url = "https://explorer.example/tx/{txid}"
    network.save()
    deposit = make_deposit(network)
    case = make_case(network, users.alice, state=State.REFUND_BROADCAST, deposit=deposit)
    Refund.objects.create(
        case=case,
        deposit=deposit,
        network=network,
        destination=case.refund_destination,
        standard="erc20",
        amount=10,
        sender=deposit.recipient,
        state="broadcast",
        raw_tx="0x00",
        tx_hash="0x" + "ab" * 32,
    )

    page = alice.get(f"/cases/{case.reference}/").content.decode()

    assert f'href="https://explorer.example/tx/0x{"ab" * 32}"' in page


def test_the_question_and_the_sla_estimate_are_shown(network, users, alice):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    page = alice.get(f"/cases/{case.reference}/").content.decode()
    assert "Support will review the on-chain evidence" in page
    transition(
        case, State.NEEDS_INFO, actor=Actor.staff(users.agent, Role.AGENT), data={"question": "Which wallet?"}
    )
    page = alice.get(f"/cases/{case.reference}/").content.decode()
    assert "We need from you:</strong> Which wallet?" in page


def test_a_reply_answers_the_question_and_returns_the_case_to_review(network, users, alice):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    transition(
        case, State.NEEDS_INFO, actor=Actor.staff(users.agent, Role.AGENT), data={"question": "Which wallet?"}
    )

    alice.post(f"/cases/{case.reference}/message/", {"body": "My Ledger."})

    case.refresh_from_db()
    assert case.state == State.AWAITING_REVIEW
    assert case.messages.get().body == "My Ledger."


def test_cancel_before_approval_and_not_after(network, users, alice):
    open_case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    approved = make_case(network, users.alice, state=State.APPROVED)

    alice.post(f"/cases/{open_case.reference}/cancel/")
    response = alice.post(f"/cases/{approved.reference}/cancel/", follow=True)

    open_case.refresh_from_db()
    approved.refresh_from_db()
    assert open_case.state == State.CANCELLED
    assert approved.state == State.APPROVED
    assert "can no longer be cancelled" in response.content.decode()


def test_the_email_links_to_the_real_case_page(network, users, alice, settings):
    settings.SITE_URL = "http://testserver"
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    transition(case, State.NEEDS_INFO, actor=Actor.staff(users.agent, Role.AGENT), data={"question": "?"})
    mail.outbox.clear()
    notify_event(event_id=CaseEvent.objects.filter(case=case, kind="request_info").get().pk)

    link = next(
        line.split(": ", 1)[1] for line in mail.outbox[0].body.splitlines() if line.startswith("Follow")
    )

    assert link == f"http://testserver{reverse('web:case-detail', args=[case.reference])}"
    assert alice.get(link.removeprefix("http://testserver")).status_code == 200


def test_case_list_shows_only_my_cases(network, users, alice):
    mine = make_case(network, users.alice)
    theirs = make_case(network, users.bob)
    page = alice.get("/cases/").content.decode()
    assert mine.short_ref in page and theirs.short_ref not in page


def test_signup_creates_a_profile_and_logs_in():
    client = Client()
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": "a-long-pass-4567",
            "password2": "a-long-pass-4567",
        },
    )
    assert response.status_code == 302
    assert client.get("/cases/").status_code == 200
    from recovery.models import UserProfile

    assert UserProfile.objects.get(user__username="carol").account_ref.startswith("WEB-")
