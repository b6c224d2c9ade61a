"""A refund address changed after approval: the approvals no longer count, the refund to the first address
is refused at signing, and only a new approval pays, once, to the new address.

The system runs with a 20-second cooling-off for new refund addresses (the demo uses a minute): that is
the window in which an approved refund waits and alice can still change her mind.
"""

from __future__ import annotations

import time

import pytest

from recovery.payouts.refunds import WAIT_UNCLEAR

# django_db: the test reads the database only to wait for the processes (in a transaction rolled back).
pytestmark = [pytest.mark.journeys, pytest.mark.django_db, pytest.mark.timeout(300)]

COOLING_OFF_SECONDS = 20
SYSTEM_SETTINGS = {"DESTINATION_COOLING_OFF_HOURS": str(COOLING_OFF_SECONDS / 3600)}
# How often the executor looks again at a refund that waits out a cooling-off period.
EXECUTOR_LOOKS_AGAIN = WAIT_UNCLEAR * 6
WDC = 10**18  # the demo's unsupported token: 18 decimals, $2 each


def test_a_refund_address_changed_after_approval_is_paid_only_after_a_new_approval(
    chain, people, world, records
):
    sender, first_wallet, second_wallet = chain.wallet(), chain.new_address(), chain.new_address()
    deposit = world.deposit_address("alice", 1)
    txid = chain.send_tokens("unsupported", sender=sender, to=deposit, amount=350 * WDC)  # $700
    case = records.case_for(txid)

    alice = people.user("alice")
    alice.open_case(case.short_ref)
    alice.set_refund_address(first_wallet)
    agent = people.staff("agent")
    agent.open_case(txid)
    agent.wait_for_state("Awaiting review")
    agent.act("propose", resolution="onchain_return")
    assert agent.state() == "Awaiting approval"
    approver = people.staff("approver1")
    approver.open_case(txid)
    approver.act("approve")
    assert approver.text("#approval-count").startswith("1 of 1")
    approved_at = time.monotonic()

    # The refund waits out the new address's cooling-off; meanwhile alice changes her refund address.
    alice.reload_until(lambda: "cooling-off" in alice.next_step(), timeout=20, what="a refund cooling off")
    assert "Earlier approvals no longer count" in alice.set_refund_address(second_wallet)
    assert second_wallet in alice.refund_destination()
    approver.page.reload()
    assert "void (terms changed since)" in approver.approvals()
    assert approver.text("#approval-count").startswith("0 of 1")

    # The first address has cooled off and the executor has looked at the refund again: it must refuse it.
    time.sleep(max(0.0, approved_at + EXECUTOR_LOOKS_AGAIN + 8 - time.monotonic()))
    assert chain.transfers("unsupported", sender=deposit) == []
    alice.page.reload()
    assert alice.state() != "Completed" and alice.refund_hashes() == []

    agent.wait_for_state("Awaiting review")
    amount = agent.proposal_amount()
    agent.act("propose", resolution="onchain_return")
    assert agent.state() == "Awaiting approval"
    approver.page.reload()
    approver.act("approve")
    assert approver.text("#approval-count").startswith("1 of 1")

    alice.wait_for_state("Completed", timeout=120)
    paid = chain.transfers("unsupported", sender=deposit)  # everything that left the deposit address
    assert [(t.recipient, t.amount) for t in paid] == [(second_wallet, amount)]
    assert amount == 350 * WDC and alice.refund_hashes() == [paid[0].tx_hash]
    assert chain.transfers("unsupported", to=first_wallet) == []
