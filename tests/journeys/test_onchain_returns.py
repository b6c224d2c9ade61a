"""Journeys that end with tokens back on the chain: by the policy, after one or two approvers, or after a
user filed the case herself. Each refund must be on the chain exactly once, to the right address, for the
right amount, and alice's case page must show its transaction.
"""

from __future__ import annotations

import time

import pytest

# django_db: the tests read the database only to wait for the processes (in a transaction rolled back).
pytestmark = [pytest.mark.journeys, pytest.mark.django_db, pytest.mark.timeout(300)]

WDC = 10**18  # the demo's unsupported token: 18 decimals, $2 each
ULG = 10**18  # a token nobody prices: the scanner leaves it alone, alice reports it herself


def test_a_small_unsupported_deposit_goes_back_to_its_sender_by_itself(chain, people, world, records):
    sender = chain.wallet()
    deposit = world.deposit_address("alice", 0)
    txid = chain.send_tokens("unsupported", sender=sender, to=deposit, amount=25 * WDC)  # $50

    case = records.case_for(txid)
    alice = people.user("alice")
    alice.open_case(case.short_ref)
    assert "We detected" in alice.text()
    alice.wait_for_state("Completed", timeout=90)

    paid = chain.transfers("unsupported", sender=deposit)  # everything that left the deposit address
    assert [(t.recipient, t.amount) for t in paid] == [(sender, 25 * WDC)]
    assert alice.refund_hashes() == [paid[0].tx_hash]
    assert chain.balance("unsupported", sender) == 25 * WDC  # it sent its 25 WDC and got them back, once


def test_a_700_dollar_deposit_is_returned_to_the_address_alice_gives_after_one_approval(
    chain, people, world, records, inbox
):
    sender, alices_wallet = chain.wallet(), chain.new_address()
    deposit = world.deposit_address("alice", 1)
    txid = chain.send_tokens("unsupported", sender=sender, to=deposit, amount=350 * WDC)  # $700

    # Above the auto-return limit: the case waits, and alice is asked where the refund should go.
    case = records.case_for(txid)
    alice = people.user("alice")
    alice.open_case(case.short_ref)
    assert alice.asks_for_refund_address(), alice.text()
    inbox.wait_for(
        alice.email,
        lambda mail: f"/cases/{case.reference}/" in mail.body and "refund address" in mail.body,
        what="e-mail asking for a refund address",
    )
    agent = people.staff("agent")
    agent.open_case(txid)
    assert "refund address" in agent.waiting_for().lower()

    alice.set_refund_address(alices_wallet)
    assert alices_wallet in alice.refund_destination()

    agent.wait_for_state("Awaiting review")
    amount = agent.proposal_amount()
    agent.act("propose", resolution="onchain_return")
    assert agent.state() == "Awaiting approval"
    approver = people.staff("approver1")
    approver.open_case(txid)
    approver.act("approve")
    assert approver.text("#approval-count").startswith("1 of 1")

    alice.wait_for_state("Completed", timeout=120)
    assert amount == 350 * WDC  # the whole deposit: an auto-detected case is quoted no fee
    paid = chain.transfers("unsupported", sender=deposit)  # everything that left the deposit address
    assert [(t.recipient, t.amount) for t in paid] == [(alices_wallet, amount)]
    assert alice.refund_hashes() == [paid[0].tx_hash]
    assert chain.balance("unsupported", alices_wallet) == amount


def test_a_1200_dollar_deposit_waits_for_a_second_approver_then_is_returned(chain, people, world, records):
    sender, alices_wallet = chain.wallet(), chain.new_address()
    deposit = world.deposit_address("alice", 2)
    txid = chain.send_tokens("unsupported", sender=sender, to=deposit, amount=600 * WDC)  # $1,200

    case = records.case_for(txid)
    alice = people.user("alice")
    alice.open_case(case.short_ref)
    alice.set_refund_address(alices_wallet)
    agent = people.staff("agent")
    agent.open_case(txid)
    agent.wait_for_state("Awaiting review")
    amount = agent.proposal_amount()
    agent.act("propose", resolution="onchain_return")
    assert agent.state() == "Awaiting approval"

    first = people.staff("approver1")
    first.open_case(txid)
    first.act("approve")
    assert first.state() == "Awaiting approval"
    assert first.text("#approval-count").startswith("1 of 2")
    time.sleep(5)  # the system has had time to act on one approval: it must not
    alice.page.reload()
    assert alice.state() == "Awaiting approval"
    assert chain.transfers("unsupported", sender=deposit) == []

    second = people.staff("approver2")
    second.open_case(txid)
    second.act("approve")
    assert second.text("#approval-count").startswith("2 of 2")

    alice.wait_for_state("Completed", timeout=120)
    paid = chain.transfers("unsupported", sender=deposit)
    assert [(t.recipient, t.amount) for t in paid] == [(alices_wallet, amount)]
    assert amount == 600 * WDC and alice.refund_hashes() == [paid[0].tx_hash]


def test_alice_reports_a_deposit_herself_and_follows_it_to_the_refund(chain, people, world):
    alices_wallet, refund_to = chain.wallet(), chain.new_address()
    deposit = world.deposit_address("alice", 0)
    txid = chain.send_tokens("unlisted", sender=alices_wallet, to=deposit, amount=120 * ULG)

    alice = people.user("alice")
    alice.file_case(network=world.network_name, txid=txid, amount="120", refund_to=refund_to)
    assert alice.state() == "Awaiting review", alice.text()
    assert refund_to in alice.refund_destination()

    agent = people.staff("agent")
    agent.open_case(txid)
    amount = agent.proposal_amount()
    agent.act("propose", resolution="onchain_return")
    assert agent.state() == "Awaiting approval"
    approver = people.staff("approver1")
    approver.open_case(txid)
    approver.act("approve")
    assert approver.text("#approval-count").startswith("1 of 1")

    alice.wait_for_state("Completed", timeout=120)
    paid = chain.transfers("unlisted", sender=deposit)
    assert [(t.recipient, t.amount) for t in paid] == [(refund_to, amount)]
    assert amount == 120 * ULG and alice.refund_hashes() == [paid[0].tx_hash]
    assert chain.balance("unlisted", refund_to) == amount
