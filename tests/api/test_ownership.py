"""Ownership proofs: BIP-322 and legacy vectors, EIP-191 challenges bound to the case, replays refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from rest_framework.test import APIClient

from chains.bitcoin.network import network_by_name
from chains.signed_messages import BadSignature, verify_bip322_simple, verify_legacy
from recovery.models import CaseEvent, OwnershipChallenge, State
from tests.factories import make_case, make_deposit

MAINNET = network_by_name("bitcoin")
BIP322_ADDRESS = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"  # the BIP's test key
BIP322_VECTORS = [
    (
        "",
        "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDtS40ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
    ),
    (
        "",
        "AkgwRQIhAPkJ1Q4oYS0htvyuSFHLxRQpFAY56b70UvE7Dxazen0ZAiAtZfFz1S6T6I23MWI2lK/pcNTWncuyL8UL+oMdydVgzAEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ),
    (
        "Hello World",
        "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI=",
    ),
    (
        "Hello World",
        "AkgwRQIhAOzyynlqt93lOKJr+wmmxIens//zPzl9tqIOua93wO6MAiBi5n5EyAcPScOjf1lAqIUIQtr3zKNeavYabHyR8eGhowEhAsfxIAMZZEKUPYWI4BruhAQjzFT8FSFSajuFwrDL1Yhy",
    ),
]


@pytest.mark.parametrize(("message", "signature"), BIP322_VECTORS)
def test_bip322_simple_signatures_of_the_bip_verify(message, signature):
    verify_bip322_simple(BIP322_ADDRESS, message, signature, MAINNET)


@pytest.mark.parametrize(("message", "signature"), BIP322_VECTORS)
def test_bip322_signature_of_another_message_is_refused(message, signature):
    with pytest.raises(BadSignature):
        verify_bip322_simple(BIP322_ADDRESS, message + "!", signature, MAINNET)


def test_bip322_signature_for_another_address_is_refused():
    with pytest.raises(BadSignature, match="another key"):
        verify_bip322_simple("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "", BIP322_VECTORS[0][1], MAINNET)


def test_legacy_signmessage_of_the_bip322_key_verifies_and_a_changed_message_does_not():
    signature = "IOW2xi+ebJLeBtr674l4QH76dqDoVjLV80R9EFKFQX5rBrlCXPIZaYs8Yuayg0ZqjyiCbLy9pzZIS7JWT65/nsU="
    verify_legacy(BIP322_ADDRESS, "Hello World", signature, MAINNET)
    with pytest.raises(BadSignature):
        verify_legacy(BIP322_ADDRESS, "Hello world", signature, MAINNET)


def test_garbage_signatures_are_refused_not_crashing():
    for garbage in ("", "%%%", "AAAA", "A" * 88):
        with pytest.raises(BadSignature):
            verify_bip322_simple(BIP322_ADDRESS, "m", garbage, MAINNET)
        with pytest.raises(BadSignature):
            verify_legacy(BIP322_ADDRESS, "m", garbage, MAINNET)


# --- EIP-191 challenges through the API -----------------------------------------------------------

SENDER = Account.create("ownership test sender")


@pytest.fixture
def proof_case(network, users):
    deposit = make_deposit(network, sender=SENDER.address)
    case = make_case(
        network, users.alice, state=State.NEEDS_INFO, deposit=deposit, claim={"needs_ownership_proof": True}
    )
    client = APIClient()
    client.force_authenticate(users.alice)
    return case, client


def challenge(client, case):
    response = client.post(f"/api/cases/{case.reference}/challenges/", {}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def sign(message: str, account=SENDER) -> str:
    return account.sign_message(encode_defunct(text=message)).signature.hex()


def answer(client, case, nonce, signature):
    return client.post(
        f"/api/cases/{case.reference}/proofs/", {"nonce": nonce, "signature": signature}, format="json"
    )


@pytest.mark.django_db
def test_challenge_binds_network_txid_case_destination_nonce_and_expiry(proof_case):
    case, client = proof_case
    body = challenge(client, case)
    for part in (
        case.network.slug,
        case.txid,
        str(case.reference),
        case.refund_destination,
        body["nonce"],
        SENDER.address,
    ):
        assert part in body["message"]
    assert body["method"] == "eip191"


@pytest.mark.django_db
def test_a_valid_eip191_proof_sends_the_case_back_to_review(proof_case):
    case, client = proof_case
    body = challenge(client, case)

    response = answer(client, case, body["nonce"], sign(body["message"]))

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == State.AWAITING_REVIEW and response.json()["ownership_proven"] is True
    assert CaseEvent.objects.filter(case=case, kind="ownership_proven").count() == 1


@pytest.mark.django_db
def test_a_used_challenge_cannot_be_replayed(proof_case):
    case, client = proof_case
    body = challenge(client, case)
    signature = sign(body["message"])
    answer(client, case, body["nonce"], signature)

    replay = answer(client, case, body["nonce"], signature)

    assert replay.status_code == 409 and replay.json()["error"]["code"] == "challenge_used"


@pytest.mark.django_db
def test_an_expired_challenge_is_refused(proof_case):
    case, client = proof_case
    body = challenge(client, case)
    OwnershipChallenge.objects.filter(nonce=body["nonce"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = answer(client, case, body["nonce"], sign(body["message"]))

    assert response.json()["error"]["code"] == "challenge_expired"
    assert case.__class__.objects.get(pk=case.pk).state == State.NEEDS_INFO


@pytest.mark.django_db
def test_a_signature_by_another_key_is_refused(proof_case):
    case, client = proof_case
    body = challenge(client, case)

    response = answer(client, case, body["nonce"], sign(body["message"], Account.create("someone else")))

    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("bad_signature", "signature")
    assert "another address" in error["message"]


@pytest.mark.django_db
def test_a_challenge_of_another_case_cannot_prove_this_one(proof_case, network, users):
    case, client = proof_case
    other = make_case(
        network, users.alice, state=State.NEEDS_INFO, deposit=make_deposit(network, sender=SENDER.address)
    )
    body = challenge(client, other)

    response = answer(client, case, body["nonce"], sign(body["message"]))

    assert response.json()["error"]["code"] == "unknown_challenge"


@pytest.mark.django_db
def test_a_challenge_is_void_once_the_destination_changes(proof_case):
    case, client = proof_case
    body = challenge(client, case)
    case.__class__.objects.filter(pk=case.pk).update(refund_destination="0x" + "5" * 40)

    response = answer(client, case, body["nonce"], sign(body["message"]))

    assert response.json()["error"]["code"] == "challenge_outdated"
