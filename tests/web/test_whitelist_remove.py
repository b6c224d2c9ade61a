"""Removing an address from the withdrawal whitelist: owner only, audited, POST + CSRF, and what it blocks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.test import Client
from django.utils import timezone

from recovery.accounts.destinations import (
    destination_code_send,
    destination_prepare,
    destination_usable,
    whitelist_add,
    whitelist_check,
    whitelist_remove,
)
from recovery.accounts.errors import UserError
from recovery.audit.events import SYSTEM_CHAIN, event_log_verify
from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_propose
from recovery.cases.user_actions import destination_change
from recovery.cases.workflow import transition
from recovery.models import (
    CaseEvent,
    DepositStatus,
    RecoveryCase,
    Refund,
    RefundState,
    Resolution,
    State,
    UserDestination,
    UserProfile,
)
from recovery.payouts.refunds import refund_advance, signing_guards
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db
DEST = "0x52908400098527886E0F7030069857D2E4169EE7"  # an EIP-55 test vector
REMOVE_URL = "/security/whitelist/remove/"
NOT_FOUND = "That address is not on your whitelist: reload the security page and try again."


def whitelisted(user, address: str = DEST, *, cooled_off: bool = True) -> UserDestination:
    now = timezone.now()
    return UserDestination.objects.create(
        user=user,
        family="evm",
        address=address,
        whitelisted=True,
        label="ledger",
        confirmed_at=now - timedelta(days=3),
        usable_after=now - timedelta(days=2) if cooled_off else now + timedelta(hours=24),
    )


def whitelist_only(user) -> None:
    UserProfile.objects.filter(user=user).update(whitelist_only=True)


def emailed_code(user, network, address: str = DEST) -> str:
    destination_code_send(user=user, network=network, address=address, memo="", client_ip=None)
    return re.search(r"confirmation code is (\d{6})\.", mail.outbox[-1].body).group(1)


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def removal_events():
    return CaseEvent.objects.filter(chain=SYSTEM_CHAIN, kind="whitelist_removed")


def test_the_owner_removes_an_entry_the_row_stays_and_the_removal_is_audited(network, users):
    row = whitelisted(users.alice)

    response = signed_in(users.alice).post(REMOVE_URL, {"destination": row.pk})

    assert response.status_code == 302 and response.url == "/security/"
    assert flashed(response) == [
        f"Removed {DEST} from your whitelist. Adding it again starts a new cooling-off period."
    ]
    row.refresh_from_db()  # kept: cases may name the address
    assert row.whitelisted is False
    event = removal_events().get()
    assert (event.actor_id, event.case_id) == (users.alice.pk, None)
    assert event.data == {
        "user": "alice",
        "destination": row.pk,
        "family": "evm",
        "address": DEST,
        "memo": "",
        "label": "ledger",
    }
    assert event_log_verify() == []  # appended to the tamper-evident chain, not beside it


def test_another_users_entry_and_an_unknown_id_are_refused_alike(network, users):
    alices = whitelisted(users.alice)
    unknown = alices.pk + 1000

    answers = []
    for destination_id in (alices.pk, unknown):
        with pytest.raises(UserError) as refused:
            whitelist_remove(user=users.bob, destination_id=destination_id)
        answers.append((refused.value.code, refused.value.message, refused.value.status))
    assert answers[0] == answers[1] == ("whitelist_entry_not_found", NOT_FOUND, 404)

    pages = [signed_in(users.bob).post(REMOVE_URL, {"destination": pk}) for pk in (alices.pk, unknown)]
    assert [(p.status_code, flashed(p)) for p in pages] == [(302, [NOT_FOUND])] * 2

    alices.refresh_from_db()
    assert alices.whitelisted is True
    assert not removal_events().exists()


def test_removing_an_address_that_is_no_longer_on_the_whitelist_is_not_found(network, users):
    row = whitelisted(users.alice)
    whitelist_remove(user=users.alice, destination_id=row.pk)
    with pytest.raises(UserError) as refused:
        whitelist_remove(user=users.alice, destination_id=row.pk)
    assert refused.value.code == "whitelist_entry_not_found"
    assert removal_events().count() == 1


@pytest.mark.parametrize("bad", ["", "abc", "-1", "0", "1.5", str(2**70)])
def test_a_bad_id_gets_a_clear_message_and_changes_nothing(network, users, bad):
    row = whitelisted(users.alice)
    response = signed_in(users.alice).post(REMOVE_URL, {"destination": bad})
    assert response.status_code == 302
    assert flashed(response) == ["That is not an address of your whitelist: reload this page and try again."]
    row.refresh_from_db()
    assert row.whitelisted is True


def test_a_get_does_not_remove(network, users):
    row = whitelisted(users.alice)
    response = signed_in(users.alice).get(REMOVE_URL, {"destination": row.pk})
    assert response.status_code == 405
    row.refresh_from_db()
    assert row.whitelisted is True


def test_signed_out_nothing_is_removed(network, users):
    row = whitelisted(users.alice)
    response = Client().post(REMOVE_URL, {"destination": row.pk})
    assert response.status_code == 302 and response.url.startswith("/login/")
    row.refresh_from_db()
    assert row.whitelisted is True


def test_the_remove_button_posts_with_csrf_and_a_post_without_the_token_is_refused(network, users):
    row = whitelisted(users.alice)
    client = signed_in(users.alice, enforce_csrf_checks=True)

    assert client.post(REMOVE_URL, {"destination": row.pk}).status_code == 403
    row.refresh_from_db()
    assert row.whitelisted is True

    page = client.get("/security/").content.decode()
    form = re.search(rf'<form method="post" action="{REMOVE_URL}">(.*?)</form>', page, re.S)
    assert form and f'name="destination" value="{row.pk}"' in form.group(1) and ">Remove</button>" in form[1]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(1)).group(1)
    response = client.post(REMOVE_URL, {"destination": row.pk, "csrfmiddlewaretoken": token})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.whitelisted is False
    assert REMOVE_URL not in client.get("/security/").content.decode()  # no button for a removed address


def test_with_whitelist_only_a_removed_address_is_refused_for_filing_and_for_a_changed_destination(
    network, users
):
    row = whitelisted(users.alice)
    whitelist_only(users.alice)
    whitelist_check(user=users.alice, family="evm", address=DEST, memo="")  # on the whitelist: accepted

    whitelist_remove(user=users.alice, destination_id=row.pk)

    with pytest.raises(UserError) as refused:
        whitelist_check(user=users.alice, family="evm", address=DEST, memo="")
    assert refused.value.code == "not_whitelisted"
    with pytest.raises(UserError) as filing:  # what claim_file checks a new case's destination with
        destination_prepare(
            user=users.alice,
            network=network,
            address=DEST,
            memo="",
            otp_code=emailed_code(users.alice, network),
        )
    assert filing.value.code == "not_whitelisted"
    case = make_case(network, users.alice, state=State.AWAITING_REVIEW)
    with pytest.raises(UserError) as changing:
        destination_change(
            user=users.alice, case=case, address=DEST, memo="", otp_code=emailed_code(users.alice, network)
        )
    assert changing.value.code == "not_whitelisted"
    case.refresh_from_db()
    assert case.refund_destination != DEST


def test_re_adding_a_removed_address_starts_a_new_cooling_off(network, users):
    row = whitelisted(users.alice)  # cooled off two days ago
    whitelist_remove(user=users.alice, destination_id=row.pk)

    before = timezone.now()
    whitelist_add(
        user=users.alice,
        network=network,
        address=DEST,
        memo="",
        label="ledger",
        otp_code=emailed_code(users.alice, network),
    )

    row.refresh_from_db()
    assert row.whitelisted is True
    assert row.usable_after >= before + timedelta(hours=24)
    case = make_case(
        network, users.alice, state=State.APPROVED, refund_destination=DEST, destination_confirmed_at=before
    )
    usable, reason = destination_usable(case)
    assert not usable and reason.startswith("the destination is new: cooling off")


@pytest.fixture
def queued_refund(network, users, settings):
    """Alice's approved case refunding to her whitelisted, cooled-off DEST, queued and not yet signed."""
    settings.TWO_APPROVER_THRESHOLD_USD_CENTS = 100_000
    deposit = make_deposit(network, status=DepositStatus.CONFIRMED)
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        deposit=deposit,
        value_usd_cents=5_000,
        refund_destination=DEST,
        destination_confirmed_at=timezone.now() - timedelta(days=2),
    )
    case_propose(
        case_id=case.pk,
        actor=Actor.staff(users.approver1, Role.APPROVER),
        resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=deposit.amount,
    )
    case_approve(case_id=case.pk, actor=Actor.staff(users.approver2, Role.APPROVER))
    transition(case.pk, State.REFUND_QUEUED, actor=Actor.system("test"))
    return Refund.objects.create(
        case=case,
        deposit=deposit,
        network=network,
        destination=DEST,
        standard=deposit.standard,
        contract=deposit.contract,
        amount=deposit.amount,
        sender=deposit.recipient,
        key_index=7,
    )


def test_with_whitelist_only_an_unsigned_refund_to_a_removed_address_waits_for_a_person(queued_refund, users):
    row = whitelisted(users.alice)
    whitelist_only(users.alice)
    signing_guards(queued_refund)  # everything holds while the address is whitelisted

    whitelist_remove(user=users.alice, destination_id=row.pk)
    # The executor's first step is the guard, before any chain is asked: it stops and hands over to staff.
    assert refund_advance(refund_id=queued_refund.pk) is None

    queued_refund.refresh_from_db()
    assert queued_refund.state == RefundState.NEEDS_REVIEW
    assert queued_refund.last_error == "the user allows only whitelisted destinations"
    assert RecoveryCase.objects.get(pk=queued_refund.case_id).state == State.NEEDS_REVIEW


def test_without_whitelist_only_a_removal_does_not_touch_a_queued_refund(queued_refund, users):
    row = whitelisted(users.alice)
    whitelist_remove(user=users.alice, destination_id=row.pk)
    signing_guards(queued_refund)  # raises RefundBlocked if the removal had blocked it
    queued_refund.refresh_from_db()
    assert queued_refund.state == RefundState.QUEUED
