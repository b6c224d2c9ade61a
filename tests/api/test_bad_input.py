"""Bad input on the real chain: each refusal is a structured error saying what to do; nothing is created."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from recovery.models import Deposit, ListedAsset, RecoveryCase, ScreenedAddress
from tests.api.claims import ALICE_DEPOSIT, ELSEWHERE, REFUND_TO, TOKENS, fresh_totp

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


@pytest.fixture
def alice(users) -> APIClient:
    client = APIClient()
    client.force_authenticate(users.alice)
    return client


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    return body["error"]


def lookup(client, txid: str, **extra):
    return client.post("/api/lookups/", {"network": "anvil", "txid": txid, **extra}, format="json")


def nothing_created() -> bool:
    return RecoveryCase.objects.count() == 0 and Deposit.objects.count() == 0


def test_unknown_txid_says_to_check_the_network(claim_setup, alice):
    error = error_of(lookup(alice, "0x" + "ab" * 32), 404)
    assert error["code"] == "tx_not_found" and "network you sent on" in error["message"]
    assert nothing_created()


def test_malformed_txid_names_the_expected_form(claim_setup, alice):
    error = error_of(lookup(alice, "hello"), 400)
    assert (error["code"], error["field"]) == ("invalid_txid", "txid")
    assert "64 hex digits" in error["message"]


def test_pending_transaction_asks_to_file_once_confirmed(claim_setup, alice):
    anvil, token = claim_setup.anvil, claim_setup.token
    anvil.set_automine(False)
    txid = anvil.transact(
        token, "transfer", ALICE_DEPOSIT, 1, sender=claim_setup.sender, gas=100_000, wait=False
    )

    error = error_of(lookup(alice, txid), 409)
    assert error["code"] == "tx_pending" and "once it is confirmed" in error["message"]


def test_failed_transaction_explains_that_nothing_arrived(claim_setup, alice, evm_contracts):
    anvil = claim_setup.anvil
    txid = anvil.transact(evm_contracts["RevertingToken"], "transfer", ALICE_DEPOSIT, 1, gas=100_000)

    error = error_of(lookup(alice, txid), 422)
    assert error["code"] == "tx_failed" and "failed on-chain" in error["message"]


def test_transaction_that_did_not_reach_our_addresses_is_refused(claim_setup, alice):
    txid = claim_setup.anvil.transact(claim_setup.token, "transfer", ELSEWHERE, 5, sender=claim_setup.sender)

    error = error_of(lookup(alice, txid), 422)
    assert error["code"] == "not_our_address" and "block explorer" in error["message"]


def test_listed_asset_above_the_minimum_was_already_credited(claim_setup, alice):
    ListedAsset.objects.create(
        network=claim_setup.network, symbol="TT", contract=claim_setup.token.address, decimals=18
    )

    error = error_of(lookup(alice, claim_setup.txid), 422)
    assert error["code"] == "already_credited" and "deposit history" in error["message"]
    assert nothing_created()


def test_listed_asset_below_the_minimum_is_a_below_minimum_case(claim_setup, alice):
    ListedAsset.objects.create(
        network=claim_setup.network,
        symbol="TT",
        contract=claim_setup.token.address,
        decimals=18,
        min_deposit=100 * 10**18,
    )
    assert lookup(alice, claim_setup.txid).json()["category"] == "below_minimum"


def test_claimed_amount_that_does_not_match_the_chain_is_refused(claim_setup, alice):
    error = error_of(lookup(alice, claim_setup.txid, amount="75"), 422)
    assert error["code"] == "amount_mismatch" and "sent 50 TT, not 75" in error["message"]
    assert lookup(alice, claim_setup.txid, amount="50.0").status_code == 200


def file(client, users, **fields):
    token = lookup(client, fields.pop("txid", None) or "").json().get("quote_token", "")
    body = {
        "quote_token": token,
        "refund_destination": REFUND_TO,
        "accept_fee": True,
        "otp_code": fresh_totp(users.alice),
    }
    return client.post("/api/cases/", {**body, **fields}, format="json")


def test_destination_with_a_broken_checksum_is_refused(claim_setup, alice, users):
    mixed = "0x" + REFUND_TO[2:6].swapcase() + REFUND_TO[6:]
    response = file(alice, users, txid=claim_setup.txid, refund_destination=mixed)

    error = error_of(response, 400)
    assert (error["code"], error["field"]) == ("invalid_destination", "refund_destination")
    assert nothing_created()


def test_sanctioned_destination_is_refused(claim_setup, alice, users):
    ScreenedAddress.objects.create(family="evm", address=REFUND_TO, kind="sanctioned", source="test list")

    error = error_of(file(alice, users, txid=claim_setup.txid), 400)
    assert error["code"] == "sanctioned_destination"
    assert nothing_created()


def test_oversized_note_is_refused(claim_setup, alice, users):
    error = error_of(file(alice, users, txid=claim_setup.txid, note="x" * 2001), 400)
    assert (error["code"], error["field"]) == ("too_long", "note")
    assert nothing_created()


def test_memo_on_a_network_without_memos_is_refused(claim_setup, alice, users):
    error = error_of(file(alice, users, txid=claim_setup.txid, destination_memo="12345"), 400)
    assert (error["code"], error["field"]) == ("memo_not_allowed", "memo")


def test_unknown_network_is_refused(claim_setup, alice):
    error = error_of(
        alice.post("/api/lookups/", {"network": "nope", "txid": claim_setup.txid}, format="json"), 400
    )
    assert (error["code"], error["field"]) == ("unknown_network", "network")


def test_amount_at_the_token_precision_is_accepted(claim_setup, alice):
    body = lookup(alice, claim_setup.txid, amount=f"{TOKENS / 10**18:.18f}").json()
    assert body["transfers"][0]["amount"] == str(TOKENS)


@pytest.mark.parametrize(
    "amount", ["1e999980", "1e999999999", "1E5", "0x10", "1.5.2", "-3", "NaN", "Infinity"]
)
def test_an_amount_not_in_plain_digits_is_refused_before_any_arithmetic(claim_setup, alice, amount):
    """An exponent took seconds of CPU ("1e999980") or overflowed into a 500 ("1e999999999")."""
    error = error_of(lookup(alice, claim_setup.txid, amount=amount), 400)
    assert error["code"] == "invalid_amount" and "digits" in error["message"]
