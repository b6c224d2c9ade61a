"""Destinations are withdrawals: validation, screening, second factor, whitelist, cooling-off, usability."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from recovery.accounts.destinations import (
    destination_code_send,
    destination_normalize,
    destination_screen,
    destination_usable,
    whitelist_add,
    whitelist_only_set,
)
from recovery.accounts.errors import UserError
from recovery.accounts.second_factor import totp_now
from recovery.cases.user_actions import destination_change
from recovery.models import (
    Approval,
    CaseEvent,
    EmailCode,
    Resolution,
    ScreenedAddress,
    State,
    UserDestination,
    UserProfile,
)
from tests.factories import make_authenticator, make_case, make_deposit, make_network

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 test vector
OTHER = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"  # another EIP-55 test vector


def code_from_mail() -> str:
    return re.search(r"confirmation code is (\d{6})\.", mail.outbox[-1].body).group(1)


def send_and_read_code(user, network, address, memo=""):
    destination_code_send(user=user, network=network, address=address, memo=memo, client_ip=None)
    return code_from_mail()


def test_evm_destination_needs_a_valid_eip55_checksum(network):
    assert destination_normalize(network=network, address=DEST.lower())[0] == DEST
    mixed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # EIP-55 vector; swapping its case breaks it
    assert destination_normalize(network=network, address=mixed)[0] == mixed
    with pytest.raises(UserError) as refused:
        destination_normalize(network=network, address=mixed[:2] + mixed[2:].swapcase())
    assert refused.value.code == "invalid_destination"


def test_bitcoin_destination_must_be_of_that_network(db):
    mainnet = make_network("bitcoin", family="bitcoin", native_symbol="BTC", chain_id=None)
    bech32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    taproot = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0"
    assert destination_normalize(network=mainnet, address=bech32.upper())[0] == bech32
    assert destination_normalize(network=mainnet, address=taproot)[0] == taproot
    for wrong in ("tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5"):
        with pytest.raises(UserError):
            destination_normalize(network=mainnet, address=wrong)


def test_memo_network_requires_its_memo(db):
    tagged = make_network("tagnet", options={"memo": "required"})
    with pytest.raises(UserError) as refused:
        destination_normalize(network=tagged, address=DEST)
    assert refused.value.code == "memo_required"
    assert destination_normalize(network=tagged, address=DEST, memo="123")[1] == "123"


def test_exchange_hot_wallet_and_known_contract_are_warned_about(network):
    ScreenedAddress.objects.create(family="evm", address=DEST, kind="exchange_hot_wallet", label="BigEx")
    ScreenedAddress.objects.create(family="evm", address=OTHER, kind="contract")
    assert [w["code"] for w in destination_screen(network=network, address=DEST)] == ["exchange_hot_wallet"]
    assert "BigEx" in destination_screen(network=network, address=DEST)[0]["message"]
    assert [w["code"] for w in destination_screen(network=network, address=OTHER)] == ["contract"]


def test_a_deployed_contract_destination_is_warned_about(anvil_network, evm_contracts):
    warnings = destination_screen(network=anvil_network, address=evm_contracts["TestToken"].address)
    assert [w["code"] for w in warnings] == ["contract"]
    assert destination_screen(network=anvil_network, address=DEST) == []


def test_email_code_is_stored_hashed_used_once_and_bound_to_its_destination(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    code = send_and_read_code(users.alice, network, DEST)
    assert not EmailCode.objects.filter(code_hash__contains=code).exists()

    with pytest.raises(UserError):  # the code confirms DEST, not OTHER
        destination_change(user=users.alice, case=case, address=OTHER, memo="", otp_code=code)
    destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)
    case.refresh_from_db()
    assert case.refund_destination == DEST and case.destination_confirmed_at is not None

    with pytest.raises(UserError) as replay:
        destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)
    assert replay.value.code == "second_factor_invalid"


def test_email_code_stops_working_after_five_wrong_tries(network, users):
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    code = send_and_read_code(users.alice, network, DEST)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        with pytest.raises(UserError):
            destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=wrong)
    with pytest.raises(UserError):
        destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)


def test_a_user_with_an_authenticator_confirms_with_totp_not_email(network, users):
    device = make_authenticator(users.alice)
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    emailed = send_and_read_code(users.alice, network, DEST)
    with pytest.raises(UserError):
        destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=emailed)
    device.refresh_from_db()
    device.throttle_reset()  # django-otp delays the next try after a failure (brute-force protection)
    destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=totp_now(device))
    assert UserDestination.objects.get(user=users.alice, address=DEST)


def test_changing_the_destination_voids_approvals_and_returns_to_review(network, users):
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_APPROVAL,
        deposit=make_deposit(network),
        resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=10**17,
        proposed_by=users.agent,
    )
    from recovery.cases.workflow import terms_digest

    Approval.objects.create(
        case=case, approver=users.approver1, terms_digest=terms_digest(case), case_version=1
    )
    code = send_and_read_code(users.alice, network, DEST)

    changed = destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)

    assert changed.state == State.AWAITING_REVIEW
    from recovery.cases.workflow import valid_approver_ids

    assert valid_approver_ids(changed) == set()


def test_a_new_destination_cools_off_before_a_refund_may_be_signed(network, users, settings):
    settings.DESTINATION_COOLING_OFF = timedelta(hours=24)
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    code = send_and_read_code(users.alice, network, DEST)
    destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)
    case.refresh_from_db()

    usable, reason = destination_usable(case)
    assert not usable and "cooling off" in reason
    row = UserDestination.objects.get(user=users.alice, address=DEST)
    assert row.usable_after - row.confirmed_at == timedelta(hours=24)

    UserDestination.objects.filter(pk=row.pk).update(usable_after=timezone.now() - timedelta(seconds=1))
    assert destination_usable(case) == (True, "ok")


def test_an_unconfirmed_or_sanctioned_destination_is_never_usable(network, users):
    case = make_case(network, users.alice, state=State.APPROVED, refund_destination=DEST)
    assert destination_usable(case)[0] is False  # never confirmed with a second factor
    ScreenedAddress.objects.create(family="evm", address=DEST, kind="sanctioned")
    assert destination_usable(case) == (False, "the destination is on the sanctions / deny list")


def test_whitelist_only_refuses_destinations_off_the_whitelist(network, users):
    whitelist_only_set(user=users.alice, enabled=True, otp_code=email_code(users.alice, "whitelist_only:1"))
    assert UserProfile.objects.get(user=users.alice).whitelist_only
    switched = CaseEvent.objects.get(kind="whitelist_only_set")  # audited on the system chain
    assert switched.case is None and switched.data == {"user": "alice", "enabled": True}
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    code = send_and_read_code(users.alice, network, DEST)
    with pytest.raises(UserError) as refused:
        destination_change(user=users.alice, case=case, address=DEST, memo="", otp_code=code)
    assert refused.value.code == "not_whitelisted"

    whitelist_add(
        user=users.alice,
        network=network,
        address=DEST,
        memo="",
        label="ledger",
        otp_code=send_and_read_code(users.alice, network, DEST),
    )
    added = CaseEvent.objects.get(kind="whitelist_added")
    assert (added.data["address"], added.data["label"], added.data["user"]) == (DEST, "ledger", "alice")
    destination_change(
        user=users.alice,
        case=case,
        address=DEST,
        memo="",
        otp_code=send_and_read_code(users.alice, network, DEST),
    )
    case.refresh_from_db()
    assert case.refund_destination == DEST


def email_code(user, purpose: str) -> str:
    from recovery.accounts.second_factor import email_code_send

    email_code_send(user=user, purpose=purpose, client_ip=None)
    return code_from_mail()
