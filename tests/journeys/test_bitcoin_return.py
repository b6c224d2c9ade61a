"""Journey: a manual plain-BTC return on the Bitcoin node, through the running system.

Alice pays 0.00009 BTC from her own wallet to her exchange deposit address: below the exchange's minimum
of 0.0001 BTC, so nothing credits it. As soon as her wallet shows one confirmation she reports it on the
user pages in Chromium, gives her own wallet as the refund destination and confirms it with the code the
exchange e-mails her. The chain keeps making blocks; the running scanner confirms the deposit at its depth.
The agent, on the staff pages, sees the deposit confirmed and proposes an on-chain return of the whole
deposit (no fee is quoted); approver1, after his authenticator code, approves it. From there only the
running system acts: the worker signs a return from the deposit key, the node accepts it, a block mines
it, and alice's case page shows its transaction and the case completed.

Processes: `manage.py runserver`, a Celery worker on every queue and `celery beat`, on RabbitMQ and the
PostgreSQL test database; the node is the Bitcoin Core JSON-RPC fixture node on a loopback port, reached
through the Network row's rpc_url. The test never calls a service: it seeds, then acts as alice, her
wallet, the agent, the approver and the miners, and asserts what alice sees and what the chain holds.
"""

from __future__ import annotations

import re
import time

import pytest
from bitcoin.core import CTransaction, b2lx

from recovery.models import RecoveryCase, Refund
from tests.chains.bitcoin.fake_node import tx_weight
from tests.chains.bitcoin.kernel import verify_tx
from tests.journeys import bitcoin_node as btc_fixtures
from tests.journeys.bitcoin_node import (
    APPROVER_SECRET,
    ARTIFACTS,
    PASSWORD,
    UserWallet,
    emailed_code,
    fund,
    inbox,
    rpc,
    totp_code,
)
from tests.services import wait_for

# The fixtures of this journey (pytest finds them by name in the module).
btc_node, btc_exchange, running_system, chromium = (
    btc_fixtures.btc_node,
    btc_fixtures.btc_exchange,
    btc_fixtures.running_system,
    btc_fixtures.chromium,
)

pytestmark = [
    pytest.mark.services,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(480),
]

SENT = 9_000  # sats: below the exchange's 10,000 minimum
SENT_DISPLAY = "0.00009"
NODE_FEE_RATE = 12  # sat/vB: the fixture node's estimatesmartfee answer
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def submit(page, selector: str) -> None:
    """Click a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def staff_login(browser, base: str, username: str, totp_secret: str | None = None):
    page = browser.new_context(viewport={"width": 1360, "height": 1000}).new_page()
    page.goto(f"{base}/staff/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    submit(page, "button[type=submit]")
    if totp_secret is not None:
        assert "/staff/otp/" in page.url, page.url
        page.fill("#id_token", totp_code(totp_secret))
        submit(page, "button[type=submit]")
    assert page.url.rstrip("/").endswith("/staff"), page.url
    return page


def refund_line(page) -> tuple[str, str] | None:
    """(refund state, txid) from the "Refund:" line of the user's case page, if it shows one with a txid."""
    found = re.findall(r"Refund:\s*(.+?)\s+([0-9a-f]{64})", page.inner_text("main"))
    assert len(found) <= 1, f"the user's page shows more than one refund: {found}"
    return found[0] if found else None


def case_diagnosis(case_url: str, system) -> str:
    reference = re.search(UUID, case_url).group(0)
    case = RecoveryCase.objects.filter(reference=reference).first()
    refunds = list(Refund.objects.filter(case=case).values("state", "tx_hash", "last_error"))
    state = case.state if case else "?"
    return f"case state {state}; refunds {refunds}\n{system.logs()}"


def test_a_manual_plain_btc_return_on_the_bitcoin_node(btc_node, btc_exchange, running_system, chromium):
    node, exchange, system = btc_node, btc_exchange, running_system
    base = system.url
    ARTIFACTS.mkdir(exist_ok=True)
    started = time.monotonic()

    # --- the chain: alice's wallet is paid from elsewhere, then pays her deposit address below the minimum.
    wallet = UserWallet("alice")
    spender, refund_to = wallet.key(0), wallet.key(1)
    coin = fund(node, spender, 100_000, tag=0x4A)
    payment = wallet.pay(coin=coin, spender=spender, to=exchange.deposit_script, amount=SENT, fee=1_000)
    deposit_txid = rpc(node.url, node.user, node.password, "sendrawtransaction", payment.serialize().hex())
    node.mine_mempool()  # one confirmation: alice's wallet shows it confirmed; the exchange waits for 3

    # --- alice reports it on the user pages, with her own wallet as the destination.
    user = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
    user.goto(f"{base}/login/")
    user.fill("#id_username", "alice")
    user.fill("#id_password", PASSWORD)
    submit(user, "button[type=submit]")
    assert user.url == f"{base}/cases/", user.url
    submit(user, "text=Report a deposit")
    user.select_option("#id_network", label="Bitcoin")
    user.fill("#id_txid", deposit_txid)
    user.fill("#id_amount", SENT_DISPLAY)
    submit(user, "text=Look up the transaction")
    findings = user.inner_text("#findings")
    assert f"{SENT_DISPLAY} BTC" in findings, findings
    assert "your deposit address" in findings and exchange.deposit_address in findings, findings
    assert spender.address in findings, findings  # "From": her own wallet
    assert "Below the minimum deposit" in findings, findings
    assert "we act after 3" in findings, findings
    user.fill("#id_refund_destination", refund_to.address)
    mails = len(inbox(system.mail_dir, "alice@example.com"))
    submit(user, "button[value=send_code]")
    assert "We e-mailed you a code" in user.inner_text(".messages")
    assert wait_for(lambda: emailed_code(system.mail_dir, "alice@example.com", after=mails), timeout=30)
    code = emailed_code(system.mail_dir, "alice@example.com", after=mails)
    user.fill("#id_refund_destination", refund_to.address)
    user.fill("#id_otp_code", code)
    user.check("#id_accept_fee")
    submit(user, "button[value=file]")
    case_url = user.url
    assert re.fullmatch(rf"{base}/cases/{UUID}/", case_url), case_url + "\n" + user.inner_text("main")
    page_text = user.inner_text("main")
    assert "Awaiting review" in page_text and refund_to.address in page_text, page_text
    short_ref = re.search(r"Case ([0-9A-F]{8})", page_text).group(1)
    user.screenshot(path=str(ARTIFACTS / "journey-btc-filed.png"), full_page=True)

    # --- the chain goes on: a block a second, each taking the mempool.
    node.start_mining(every=1.0)

    # --- the agent finds the case, waits until the chain evidence says the deposit is confirmed, proposes.
    agent = staff_login(chromium, base, "agent")
    agent.goto(f"{base}/staff/?q={short_ref}")
    submit(agent, f"text={short_ref}")
    staff_case_url = agent.url

    def deposit_confirmed() -> bool:
        agent.reload()
        return bool(re.search(r"Status\s+Confirmed", agent.inner_text("#evidence-chain")))

    assert wait_for(deposit_confirmed, timeout=90, interval=1.0), (
        "the staff page never showed the deposit confirmed:\n"
        + agent.inner_text("#evidence-chain")
        + "\n"
        + system.logs()
    )
    evidence = agent.inner_text("#evidence-chain")
    assert spender.address in evidence and exchange.deposit_address in evidence, evidence
    assert f"{SENT} base units" in evidence, evidence
    approved_amount = int(agent.input_value("#id_refund_amount"))
    assert approved_amount == SENT  # the deposit, net of the quoted fee (none)
    assert agent.input_value("#id_resolution") == "onchain_return"
    submit(agent, "#form-propose button[type=submit]")
    assert "awaiting approval" in agent.inner_text(".messages"), agent.inner_text(".messages")

    # --- approver1 logs in with his authenticator and approves.
    approver = staff_login(chromium, base, "approver1", APPROVER_SECRET)
    approver.goto(staff_case_url)
    assert approver.inner_text("#approval-count").startswith("0 of 1")
    submit(approver, "#form-approve button[type=submit]")
    said = approver.inner_text(".messages")
    assert "Approved. The refund is queued" in said, said
    approver.screenshot(path=str(ARTIFACTS / "journey-btc-approved.png"), full_page=True)
    approved_at = time.monotonic()

    # --- from here only the running system and the chain act; alice follows her case page.
    def refund_shown() -> bool:
        user.reload()
        return refund_line(user) is not None

    assert wait_for(refund_shown, timeout=120, interval=2.0), (
        "alice's page never showed a refund transaction after the approval.\n"
        + user.inner_text("main")[:1500]
        + "\n"
        + case_diagnosis(case_url, system)
    )

    def completed() -> bool:
        user.reload()
        line = refund_line(user)
        return line is not None and line[0] == "Confirmed" and "Completed" in user.inner_text("h1")

    assert wait_for(completed, timeout=120, interval=2.0), (
        "the refund never confirmed on alice's page.\n"
        + user.inner_text("main")[:1500]
        + "\n"
        + case_diagnosis(case_url, system)
    )
    paid_after = time.monotonic() - approved_at
    user.screenshot(path=str(ARTIFACTS / "journey-btc-completed.png"), full_page=True)
    _, shown_txid = refund_line(user)

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
    assert node.confirmations_of(block) >= exchange.network.confirmations
    assert len(node.payments_to(refund_to.script)) == 1  # nothing else ever paid alice's wallet

    # ... to alice's wallet, for the approved amount less the network fee the refund itself pays.
    assert len(refund.vin) == 1 and len(refund.vout) == 1, refund
    paid = refund.vout[0]
    assert bytes(paid.scriptPubKey) == refund_to.script
    fee = SENT - paid.nValue
    vsize = (tx_weight(refund) + 3) // 4
    # The rate asked of the node (12 sat/vB) is never undercut, and over-paid by at most ~1 vB per input.
    assert NODE_FEE_RATE * vsize <= fee <= NODE_FEE_RATE * (vsize + 2), (fee, vsize)
    assert paid.nValue == approved_amount - fee

    # ... signed by the deposit key, as Bitcoin Core's consensus code checks it.
    verify_tx(refund.serialize(), [(exchange.deposit_script, SENT)])

    print(
        f"\nbtc journey: {time.monotonic() - started:.1f}s in all, refund confirmed {paid_after:.1f}s after "
        f"approval; {paid.nValue} sat to {refund_to.address} in {refund_txid} (fee {fee} sat, {vsize} vB)"
    )
