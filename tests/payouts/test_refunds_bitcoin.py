"""Bitcoin refunds through the executor: a plain return from the deposit key, checked by consensus code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bitcoin.core import b2lx
from django.conf import settings
from django.utils import timezone

from chains.bitcoin.signer import BitcoinHdSigner
from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_file, case_propose
from recovery.cases.workflow import transition
from recovery.deposits.scanning import network_scan
from recovery.deposits.watched import forget_watched
from recovery.models import (
    Deposit,
    DepositAddress,
    Network,
    RefundState,
    Resolution,
    State,
    UserDestination,
)
from recovery.onchain.registry import forget_chains
from recovery.payouts.refunds import refund_advance, refund_queue
from tests.chains.bitcoin.fake_node import funding_tx
from tests.chains.bitcoin.kernel import verify_tx

pytestmark = pytest.mark.django_db
DESTINATION = "bc1qj8gkjxu7eytpqdg92lww3csfdcfqd0yxd4c9zm"  # a real mainnet P2WPKH address
INDEX = 7


@pytest.fixture
def btc_refund(bitcoin_node, users):
    forget_chains()
    forget_watched()
    url = bitcoin_node.url.replace("http://", f"http://{bitcoin_node.user}:{bitcoin_node.password}@")
    start = bitcoin_node.tip_height + 1
    network = Network.objects.create(
        slug="bitcoin", name="Bitcoin", family="bitcoin", confirmations=1, native_symbol="BTC",
        native_decimals=8, rpc_url=url, options={"scan_batch": 10, "start_block": start},
    )  # fmt: skip
    signer = BitcoinHdSigner(settings.SIGNER_MNEMONIC, "bitcoin")
    address = signer.address(INDEX)
    DepositAddress.objects.create(
        family="bitcoin", address=address, owner_ref="ACC-alice", derivation_index=INDEX
    )
    funding = funding_tx([(signer.script("deposit", INDEX), 250_000)], tag=1)
    bitcoin_node.mine([funding])
    bitcoin_node.mine()
    network_scan(network_id=network.pk)
    deposit = Deposit.objects.get(txid=b2lx(funding.GetTxid()))
    alice = users.alice
    case = case_file(
        origin="user", category="wrong_network", network=network, txid=deposit.txid,
        actor=Actor.case_owner(alice), user=alice, deposit=deposit, refund_destination=DESTINATION,
    )  # fmt: skip
    now = timezone.now()
    UserDestination.objects.create(
        user=alice, family="bitcoin", address=DESTINATION, confirmed_at=now, usable_after=now - timedelta(1)
    )
    type(case).objects.filter(pk=case.pk).update(destination_confirmed_at=now)
    transition(case.pk, State.VERIFYING, actor=Actor.system())
    transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system())
    case_propose(
        case_id=case.pk, actor=Actor.staff(users.agent, Role.AGENT), resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=deposit.amount,
    )  # fmt: skip
    case_approve(case_id=case.pk, actor=Actor.staff(users.approver1, Role.APPROVER))
    yield bitcoin_node, refund_queue(case_id=case.pk), deposit
    forget_chains()
    forget_watched()


def test_a_plain_btc_return_is_signed_stored_sent_and_confirmed_once(btc_refund):
    node, refund, deposit = btc_refund
    for _ in range(10):
        if refund_advance(refund_id=refund.pk) is None:
            break
        node.mine(list(node.mempool.values()))
    refund.refresh_from_db()

    assert refund.state == RefundState.CONFIRMED and refund.attempts == 1
    fee = refund.attempt_rows.get().fee_cap
    assert refund.amount_received == deposit.amount - fee > 0
    prevout = (BitcoinHdSigner(settings.SIGNER_MNEMONIC, "bitcoin").script("deposit", INDEX), 250_000)
    verify_tx(bytes.fromhex(refund.raw_tx), [prevout])  # Bitcoin Core's consensus code accepts what we paid
    refund.case.refresh_from_db()
    assert refund.case.state == State.COMPLETED


def test_a_token_carrying_output_goes_to_a_human(btc_refund):
    node, refund, deposit = btc_refund
    Deposit.objects.filter(pk=deposit.pk).update(tokens=[{"protocol": "runes", "cenotaph": False}])
    assert refund_advance(refund_id=refund.pk) is None
    refund.refresh_from_db()
    assert refund.state == RefundState.NEEDS_REVIEW and "fee-wallet UTXO" in refund.last_error
    assert not refund.raw_tx and not node.mempool
