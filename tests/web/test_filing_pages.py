"""Filing on the pages against a real anvil chain: lookup, findings, quote, second factor, the case page."""

from __future__ import annotations

import re

import pytest

from recovery.models import RecoveryCase, State
from tests.api.claims import ALICE_DEPOSIT, REFUND_TO, fresh_totp

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def review(client, deposited, **extra) -> str:
    response = client.post("/cases/new/", {"network": deposited.network.pk, "txid": deposited.txid, **extra})
    assert response.status_code == 200
    return response.content.decode()


def token_in(page: str) -> str:
    return re.search(r'name="quote_token" value="([^"]+)"', page).group(1)


def test_filing_page_shows_what_the_chain_says_and_the_fee_then_files(claim_setup, users, alice):
    page = review(alice, claim_setup)
    assert "50 TT" in page and claim_setup.sender in page and ALICE_DEPOSIT in page
    assert "your deposit address" in page and "Unsupported token" in page
    assert "4.5 TT" in page and "$9.00" in page  # the binding quote, before submission

    response = alice.post(
        "/cases/new/confirm/",
        {
            "quote_token": token_in(page),
            "refund_destination": REFUND_TO,
            "otp_code": fresh_totp(users.alice),
            "accept_fee": "on",
            "action": "file",
        },
    )

    case = RecoveryCase.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/cases/{case.reference}/"
    assert case.state == State.AWAITING_REVIEW
    detail = alice.get(response["Location"]).content.decode()
    assert "The transaction checked out on-chain" in detail and "4.5 TT" in detail


def test_a_bad_txid_is_explained_on_the_page(claim_setup, alice):
    response = alice.post("/cases/new/", {"network": claim_setup.network.pk, "txid": "0x" + "cd" * 32})
    assert "has no transaction with this id" in response.content.decode()
    assert RecoveryCase.objects.count() == 0


def test_an_invalid_destination_keeps_the_review_and_says_why(claim_setup, users, alice):
    page = review(alice, claim_setup)
    response = alice.post(
        "/cases/new/confirm/",
        {
            "quote_token": token_in(page),
            "refund_destination": "0x1234",
            "otp_code": fresh_totp(users.alice),
            "accept_fee": "on",
            "action": "file",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Not a valid" in body and "50 TT" in body
    assert RecoveryCase.objects.count() == 0


def test_a_user_without_an_authenticator_gets_an_emailed_code(claim_setup, users, alice):
    from django.core import mail
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.filter(user=users.alice).delete()
    token = token_in(review(alice, claim_setup))
    form = {"quote_token": token, "refund_destination": REFUND_TO, "accept_fee": "on"}
    alice.post("/cases/new/confirm/", {**form, "action": "send_code"})
    code = re.search(r"confirmation code is (\d{6})\.", mail.outbox[-1].body).group(1)

    alice.post("/cases/new/confirm/", {**form, "otp_code": code, "action": "file"})

    assert RecoveryCase.objects.get().refund_destination == REFUND_TO


def test_the_filing_page_refuses_a_code_past_the_limit_and_keeps_the_review(
    claim_setup, users, alice, settings
):
    from django.core import mail
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.EMAIL_CODES_PER_ACCOUNT = 1
    TOTPDevice.objects.filter(user=users.alice).delete()
    form = {"quote_token": token_in(review(alice, claim_setup)), "refund_destination": REFUND_TO}
    alice.post("/cases/new/confirm/", {**form, "action": "send_code"})

    again = alice.post("/cases/new/confirm/", {**form, "action": "send_code"})

    body = again.content.decode()
    assert again.status_code == 200 and "50 TT" in body  # still the review, with the reason
    assert (
        "You have asked for 1 code in the last 60 minutes." in body and "You can ask for another at" in body
    )
    assert len(mail.outbox) == 1
