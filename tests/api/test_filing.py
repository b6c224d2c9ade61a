"""Filing through the API against a real anvil chain: lookup, quote, second factor, case, duplicates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from recovery.models import CaseEvent, Deposit, RecoveryCase, State, UserDestination
from tests.api.claims import ALICE_DEPOSIT, REFUND_TO, TOKENS, fresh_totp

pytestmark = [pytest.mark.anvil, pytest.mark.django_db(transaction=False)]


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def lookup(client, deposited, **extra):
    return client.post("/api/lookups/", {"network": "anvil", "txid": deposited.txid, **extra}, format="json")


def file(client, token, user, **extra):
    body = {
        "quote_token": token,
        "refund_destination": REFUND_TO,
        "accept_fee": True,
        "otp_code": fresh_totp(user),
    }
    return client.post("/api/cases/", {**body, **extra}, format="json")


def test_lookup_shows_sender_token_amount_and_address_and_suggests_unsupported_token(claim_setup, users):
    response = lookup(client_for(users.alice), claim_setup)

    assert response.status_code == 200, response.json()
    body = response.json()
    found = body["transfers"][body["chosen"]]
    assert found["sender"] == claim_setup.sender
    assert found["deposit_address"] == ALICE_DEPOSIT
    assert found["your_address"] is True
    assert (found["contract"], found["symbol"], found["amount"]) == (
        claim_setup.token.address,
        "TT",
        str(TOKENS),
    )
    assert found["amount_display"] == "50"
    assert body["category"] == "unsupported_token"
    assert body["confirmations"] >= 4
    assert body["needs_ownership_proof"] is False


def test_fee_quote_is_shown_before_filing_and_stored_binding_with_the_case(claim_setup, users):
    client = client_for(users.alice)
    quoted = lookup(client, claim_setup).json()
    # $100 deposit: $5 flat + 1% ($1) + $3 network cost = $9, under the $20 cap; 9% of 50 TT = 4.5 TT.
    assert quoted["fee"]["usd_cents"] == 900
    assert quoted["fee"]["amount"] == str(45 * 10**17)

    response = file(client, quoted["quote_token"], users.alice)

    assert response.status_code == 201, response.json()
    case = RecoveryCase.objects.get(reference=response.json()["reference"])
    assert case.fee_amount == 45 * 10**17
    assert case.fee_quote["fee_usd_cents"] == 900 and case.fee_quote["value_usd_cents"] == 10_000
    assert case.value_usd_cents == 10_000
    assert case.refund_destination == REFUND_TO and case.destination_confirmed_at is not None
    assert case.state == State.AWAITING_REVIEW
    assert [e.kind for e in CaseEvent.objects.filter(case=case).order_by("seq")] == [
        "filed",
        "start_verification",
        "verified",
    ]
    deposit = case.deposit
    assert (deposit.txid, deposit.amount, deposit.contract) == (
        claim_setup.txid,
        TOKENS,
        claim_setup.token.address,
    )
    assert UserDestination.objects.filter(user=users.alice, address=REFUND_TO).exists()


def test_a_changed_fee_rule_does_not_change_a_quote_already_shown(claim_setup, users):
    from recovery.models import FeeRule

    client = client_for(users.alice)
    quoted = lookup(client, claim_setup).json()
    FeeRule.objects.update(flat_usd_cents=1_900)

    case = RecoveryCase.objects.get(
        reference=file(client, quoted["quote_token"], users.alice).json()["reference"]
    )

    assert case.fee_amount == 45 * 10**17


def test_second_claim_of_the_same_deposit_returns_the_existing_case(claim_setup, users):
    client = client_for(users.alice)
    first = file(client, lookup(client, claim_setup).json()["quote_token"], users.alice).json()

    again = lookup(client, claim_setup).json()
    assert again["existing_case"] == first["reference"]
    second = file(client, again["quote_token"], users.alice)

    assert second.status_code == 200
    assert second.json()["reference"] == first["reference"] and second.json()["duplicate"] is True
    assert "already has your case" in second.json()["notice"]
    assert RecoveryCase.objects.count() == 1 and Deposit.objects.count() == 1


def test_another_user_claiming_a_deposit_with_an_open_case_is_refused_without_the_reference(
    claim_setup, users
):
    alice = client_for(users.alice)
    first = file(alice, lookup(alice, claim_setup).json()["quote_token"], users.alice).json()
    bob = client_for(users.bob)

    response = file(bob, lookup(bob, claim_setup).json()["quote_token"], users.bob)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_case"
    assert first["reference"] not in response.content.decode()
    assert RecoveryCase.objects.count() == 1


def test_an_unproven_claim_by_another_user_never_blocks_the_address_owner(claim_setup, users):
    """Claim squatting: bob (no key of the sender, not the address's account) files alice's deposit first."""
    bob = client_for(users.bob)
    squatted = file(bob, lookup(bob, claim_setup).json()["quote_token"], users.bob).json()
    alice = client_for(users.alice)

    response = file(alice, lookup(alice, claim_setup).json()["quote_token"], users.alice)

    assert response.status_code == 201, response.content
    squat = RecoveryCase.objects.get(reference=squatted["reference"])
    assert squat.state == State.CANCELLED
    assert squat.events.filter(kind="cancel", reason__startswith="superseded").exists()
    assert RecoveryCase.objects.get(reference=response.json()["reference"]).user == users.alice


def test_deposit_to_someone_elses_address_waits_for_an_ownership_proof(claim_setup, users):
    bob = client_for(users.bob)
    quoted = lookup(bob, claim_setup).json()
    assert quoted["needs_ownership_proof"] is True
    assert quoted["transfers"][0]["your_address"] is False

    case = file(bob, quoted["quote_token"], users.bob).json()

    assert case["state"] == State.NEEDS_INFO
    assert "signing the ownership challenge" in case["timeline"][-1]["detail"]


def test_filing_without_accepting_the_fee_or_the_second_factor_creates_nothing(claim_setup, users):
    client = client_for(users.alice)
    token = lookup(client, claim_setup).json()["quote_token"]

    no_fee = file(client, token, users.alice, accept_fee=False)
    wrong_code = file(client, token, users.alice, otp_code="000000")

    assert no_fee.json()["error"] == {
        "code": "fee_not_accepted",
        "message": "Accept the fee quote to file the case.",
        "field": "accept_fee",
    }
    assert wrong_code.status_code == 403 and wrong_code.json()["error"]["code"] == "second_factor_invalid"
    assert RecoveryCase.objects.count() == 0 and Deposit.objects.count() == 0


def test_a_quote_token_of_another_user_or_tampered_is_refused(claim_setup, users):
    token = lookup(client_for(users.alice), claim_setup).json()["quote_token"]
    bob = client_for(users.bob)

    stolen = file(bob, token, users.bob)
    tampered = file(bob, token[:-3] + "abc", users.bob)

    assert stolen.json()["error"]["code"] == "invalid_quote"
    assert tampered.json()["error"]["code"] == "invalid_quote"
    assert RecoveryCase.objects.count() == 0
