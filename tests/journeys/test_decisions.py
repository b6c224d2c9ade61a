"""Journeys that end without a refund on the chain: an account credit, a question answered, a rejection, a
cancellation. What the user sees is the proof; the chain must show that nothing left the deposit address.
"""

from __future__ import annotations

import pytest

from recovery.audit.reasons import REJECTION_REASONS

# django_db: the tests read the database only to wait for the processes (in a transaction rolled back).
pytestmark = [pytest.mark.journeys, pytest.mark.django_db, pytest.mark.timeout(300)]

LUSD = 10**6  # the listed dollar token, 6 decimals; the deposit minimum is 10 LUSD
WDC = 10**18  # the demo's unsupported token: 18 decimals, $2 each
ULG = 10**18  # a token nobody prices: alice reports it herself


def test_a_deposit_below_the_minimum_is_credited_to_alices_account(chain, people, world, records, inbox):
    deposit = world.deposit_address("alice", 0)
    txid = chain.send_tokens("listed", sender=chain.wallet(), to=deposit, amount=4 * LUSD)

    case = records.case_for(txid)
    agent = people.staff("agent")
    agent.open_case(txid)
    assert agent.state() == "Awaiting review"
    agent.act("propose", resolution="account_credit")
    assert agent.state() == "Awaiting approval"
    approver = people.staff("approver1")
    approver.open_case(txid)
    approver.act("approve")
    assert approver.text("#approval-count").startswith("1 of 1")

    alice = people.user("alice")
    alice.open_case(case.short_ref)
    assert alice.state() == "Approved"
    assert "credits the funds to your exchange account" in alice.text()

    agent.page.reload()
    assert agent.has("#form-mark_credited")
    agent.act("mark_credited", ledger_reference="LEDGER-2026-000417")
    assert agent.state() == "Credited to your account"

    alice.page.reload()
    assert alice.state() == "Credited to your account"
    assert "The funds were credited to your exchange account." in alice.text()
    inbox.wait_for(alice.email, lambda mail: "Credited to your account" in mail.body, what="credit e-mail")
    assert chain.transfers("listed", sender=deposit) == []  # credited on the books: nothing left on-chain


def test_support_asks_a_question_and_alices_answer_sends_the_case_back_to_review(
    chain, people, world, records, inbox
):
    deposit = world.deposit_address("alice", 1)
    txid = chain.send_tokens("listed", sender=chain.wallet(), to=deposit, amount=3 * LUSD)
    case = records.case_for(txid)

    agent = people.staff("agent")
    agent.open_case(txid)
    question = "Which exchange account did you mean to deposit these 3 LUSD to?"
    agent.act("request_info", question=question)
    assert agent.state() == "Waiting for your information"

    alice = people.user("alice")
    alice.open_case(case.short_ref)
    assert alice.state() == "Waiting for your information"
    assert question in alice.next_step()  # "We need from you: ..."
    inbox.wait_for(alice.email, lambda mail: question in mail.body, what="e-mail with the question")

    assert "sent" in alice.write_to_support("My trading account, the one this address belongs to.")
    assert alice.state() == "Awaiting review"
    assert "You answered" in alice.text()
    agent.page.reload()
    assert agent.state() == "Awaiting review"
    assert agent.has("#form-propose")


def test_a_rejection_reaches_alice_with_its_reason_in_plain_words(chain, people, world, inbox):
    alices_wallet = chain.wallet()
    deposit = world.deposit_address("alice", 2)
    txid = chain.send_tokens("unlisted", sender=alices_wallet, to=deposit, amount=80 * ULG)
    alice = people.user("alice")
    alice.file_case(network=world.network_name, txid=txid, amount="80", refund_to=chain.new_address())

    approver = people.staff("approver1")
    approver.open_case(txid)
    approver.act("reject", reason_code="spam_token")
    assert approver.state() == "Rejected"

    alice.page.reload()
    assert alice.state() == "Rejected"
    plain = REJECTION_REASONS["spam_token"]
    assert plain in alice.text()
    assert "spam_token" not in alice.text()  # the code is for staff; alice reads the sentence
    inbox.wait_for(alice.email, lambda mail: plain in mail.body, what="e-mail with the rejection reason")
    assert chain.transfers("unlisted", sender=deposit) == []


def test_alice_cancels_a_case_and_nothing_is_sent(chain, people, world, records):
    sender = chain.wallet()
    deposit = world.deposit_address("alice", 0)
    txid = chain.send_tokens("unsupported", sender=sender, to=deposit, amount=300 * WDC)  # $600
    case = records.case_for(txid)

    alice = people.user("alice")
    alice.open_case(case.short_ref)
    assert "nothing was charged" in alice.cancel_case().lower()
    assert alice.state() == "Cancelled"
    assert "you cancelled the case" in alice.text()
    assert not alice.has('form[action$="/cancel/"]')

    agent = people.staff("agent")
    agent.open_case(txid)
    assert agent.state() == "Cancelled"
    assert not agent.has("#form-propose")
    assert chain.transfers("unsupported", sender=deposit) == []  # the deposit stays where it is
