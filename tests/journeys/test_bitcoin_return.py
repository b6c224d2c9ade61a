"""Journey: a manual plain-BTC return on the Bitcoin node, through the running system.

Alice pays 0.00009 BTC from her own wallet to her exchange deposit address: below the exchange's minimum
of 0.0001 BTC, so nothing credits it. As soon as her wallet shows one confirmation she reports it on the
user pages in Chromium, gives her own wallet as the refund destination and confirms it with the code the
exchange e-mails her. The chain keeps making blocks; the running scanner confirms the deposit at its depth.
The agent, on the staff pages, sees the deposit confirmed and proposes an on-chain return of the whole
deposit (no fee is quoted); approver1, after his authenticator code, approves it. From there only the
running system acts: the worker signs a return from the deposit key, the node accepts it, a block mines
it, and alice's case page shows its transaction and the case completed.

Processes: the journeys' running system (tests/journeys/conftest.py: `manage.py runserver`, a Celery worker
on every queue and `celery beat`, on RabbitMQ and the PostgreSQL test database) on the Bitcoin world of
tests/journeys/bitcoin_node.py: the Bitcoin Core JSON-RPC fixture node on a loopback port, reached through
the Network row's rpc_url. The test never calls a service: it acts as alice, her wallet, the agent, the
approver and the miners, and asserts what alice sees and what the chain holds.
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlparse

import pytest
from bitcoin.core import CTransaction, b2lx

from tests.chains.bitcoin.fake_node import tx_weight
from tests.chains.bitcoin.kernel import verify_tx
from tests.journeys.bitcoin_node import UserWallet, bitcoin_world

# django_db: the test database the system runs on (the test itself reads nothing from it).
pytestmark = [pytest.mark.journeys, pytest.mark.django_db, pytest.mark.timeout(480)]

WORLD = bitcoin_world  # the system of this module runs on the Bitcoin fixture node
SENT = 9_000  # sats: below the exchange's 10,000 minimum
SENT_DISPLAY = "0.00009"
NODE_FEE_RATE = 12  # sat/vB: the fixture node's estimatesmartfee answer
ALICES_SEED = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"


def refund_line(person) -> tuple[str, str] | None:
    """(refund state, txid) from the "Refund:" line of the user's case page, if it shows one with a txid."""
    found = re.findall(r"Refund:\s*(.+?)\s+([0-9a-f]{64})", person.text())
    assert len(found) <= 1, f"the user's page shows more than one refund: {found}"
    return found[0] if found else None


def test_a_manual_plain_btc_return_on_the_bitcoin_node(chain, people, world):
    node = chain
    started = time.monotonic()

    # --- the chain: alice's wallet is paid from elsewhere, then pays her deposit address below the minimum.
    wallet = UserWallet(ALICES_SEED, node)
    spender, refund_to = wallet.address(0), wallet.address(1)
    coin = node.pay_from_elsewhere(wallet.script(0), 100_000, tag=0x4A)
    deposit_txid = wallet.pay(coin, owner=0, to=world.deposit_script, amount=SENT, fee=1_000)
    node.mine_mempool()  # one confirmation: alice's wallet shows it confirmed; the exchange waits for 3

    # --- alice reports it on the user pages, with her own wallet as the destination.
    alice = people.user("alice")
    findings = alice.look_up_deposit(network=world.network_name, txid=deposit_txid, amount=SENT_DISPLAY)
    assert f"{SENT_DISPLAY} BTC" in findings, findings
    assert "your deposit address" in findings and world.deposit_address in findings, findings
    assert spender in findings, findings  # "From": her own wallet
    assert "Below the minimum deposit" in findings, findings
    assert "we act after 3" in findings, findings
    assert "We e-mailed you a code" in alice.give_refund_address(refund_to)
    short_ref = alice.file_reported_deposit()
    page_text = alice.text()
    assert "Awaiting review" in page_text and refund_to in page_text, page_text
    alice.screenshot("btc-filed")

    # --- the chain goes on: a block a second, each taking the mempool.
    node.start_mining(every=1.0)

    # --- the agent finds the case, waits until the chain evidence says the deposit is confirmed, proposes.
    agent = people.staff("agent")
    agent.open_case(short_ref)
    staff_case = urlparse(agent.page.url).path
    agent.reload_until(
        lambda: re.search(r"Status\s+Confirmed", agent.text("#evidence-chain")) is not None,
        timeout=90,
        what="the deposit confirmed in the staff page's chain evidence",
    )
    evidence = agent.text("#evidence-chain")
    assert spender in evidence and world.deposit_address in evidence, evidence
    assert f"{SENT} base units" in evidence, evidence
    approved_amount = agent.proposal_amount()
    assert approved_amount == SENT  # the deposit, net of the quoted fee (none)
    assert agent.page.input_value("#id_resolution") == "onchain_return"
    said = agent.act("propose")
    assert "awaiting approval" in said, said

    # --- approver1 logs in with his authenticator and approves.
    approver = people.staff("approver1")
    assert approver.second_factor
    approver.go(staff_case)
    assert approver.text("#approval-count").startswith("0 of 1")
    said = approver.act("approve")
    assert "Approved. The refund is queued" in said, said
    approver.screenshot("btc-approved")
    approved_at = time.monotonic()

    # --- from here only the running system and the chain act; alice follows her case page.
    alice.reload_until(
        lambda: refund_line(alice) is not None,
        timeout=120,
        what="a refund transaction on alice's page after the approval",
    )

    def completed() -> bool:
        line = refund_line(alice)
        return line is not None and line[0] == "Confirmed" and "Completed" in alice.text("h1")

    alice.reload_until(completed, timeout=120, what="the refund confirmed and the case completed")
    paid_after = time.monotonic() - approved_at
    alice.screenshot("btc-completed")
    _, shown_txid = refund_line(alice)

    # --- what the chain holds: one transaction ever spent the deposit, sent once, mined once.
    spenders = node.spenders(deposit_txid, 0)
    assert len(spenders) == 1, f"{len(spenders)} main-chain transactions spend the deposit"
    refund, block = spenders[0]
    refund_txid = b2lx(refund.GetTxid())
    assert shown_txid == refund_txid
    sent_to_node = [
        txid
        for txid, raw in node.accepted.items()
        if any(
            (b2lx(i.prevout.hash), i.prevout.n) == (deposit_txid, 0)
            for i in CTransaction.deserialize(bytes.fromhex(raw)).vin
        )
    ]
    assert sent_to_node == [refund_txid], f"the node accepted {sent_to_node} spending the deposit"
    assert "testmempoolaccept" in node.calls  # checked by the node's policy before it was sent
    assert node.confirmations_of(block) >= world.network.confirmations
    assert len(node.payments_to(wallet.script(1))) == 1  # nothing else ever paid alice's wallet

    # ... to alice's wallet, for the approved amount less the network fee the refund itself pays.
    assert len(refund.vin) == 1 and len(refund.vout) == 1, refund
    paid = refund.vout[0]
    assert bytes(paid.scriptPubKey) == wallet.script(1)
    fee = SENT - paid.nValue
    vsize = (tx_weight(refund) + 3) // 4
    # The rate asked of the node (12 sat/vB) is never undercut, and over-paid by at most ~1 vB per input.
    assert NODE_FEE_RATE * vsize <= fee <= NODE_FEE_RATE * (vsize + 2), (fee, vsize)
    assert paid.nValue == approved_amount - fee

    # ... signed by the deposit key, as Bitcoin Core's consensus code checks it.
    verify_tx(refund.serialize(), [(world.deposit_script, SENT)])

    print(
        f"\nbtc journey: {time.monotonic() - started:.1f}s in all, refund confirmed {paid_after:.1f}s after "
        f"approval; {paid.nValue} sat to {refund_to} in {refund_txid} (fee {fee} sat, {vsize} vB)"
    )
