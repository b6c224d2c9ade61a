"""Bad input on the money path: tokens that refuse or pretend, fees that jump, a node that forgets.

Each ends paid once or in needs_review with a reason a person can act on, and never with a nonce gap.
"""

from __future__ import annotations

import pytest

from recovery.models import Deposit, DepositStatus, NonceCounter, Refund, RefundState, State
from recovery.payouts.refunds import refund_advance, refund_queue
from tests.payout_env import CONFIRMATIONS, balance, deposit_of, fees_jump, run_to_end
from tests.payouts.test_one_address_many_refunds import advance_until
from tests.payouts.test_refunds_evm import approved_case

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def token_deposit(p, kind: str, amount: int = 3 * 10**18):
    c = p.contracts[kind]
    p.node.transact(c, "mint", p.user, amount)
    txid = p.node.transact(c, "transfer", p.deposit_address, amount, sender=p.user)
    p.node.mine(CONFIRMATIONS)
    from recovery.deposits.scanning import network_scan
    from recovery.models import Deposit

    network_scan(network_id=p.network.pk)
    return Deposit.objects.get(txid=txid)


def test_a_token_whose_transfer_returns_false_is_never_called_paid(payout):
    deposit = token_deposit(payout, "FalseReturnToken")
    payout.node.transact(payout.contracts["FalseReturnToken"], "refuse", payout.user)

    refund = run_to_end(payout, refund_queue(case_id=approved_case(payout, deposit).pk))

    assert refund.state == RefundState.NEEDS_REVIEW
    assert "succeeded but moved nothing" in refund.last_error and refund.tx_hash in refund.last_error
    assert refund.case.__class__.objects.get(pk=refund.case_id).state == State.NEEDS_REVIEW
    assert payout.nonce(payout.deposit_address) == 1  # its nonce was used: no gap behind it


def test_a_token_that_refuses_the_return_goes_to_review_before_a_nonce_is_taken(payout):
    deposit = token_deposit(payout, "BlacklistToken")
    payout.node.transact(payout.contracts["BlacklistToken"], "blacklist", payout.user)

    refund = run_to_end(payout, refund_queue(case_id=approved_case(payout, deposit).pk))

    assert refund.state == RefundState.NEEDS_REVIEW and "blacklisted" in refund.last_error
    assert refund.nonce is None and not NonceCounter.objects.filter(address=refund.sender).exists()
    assert payout.nonce(payout.deposit_address) == 0


def test_a_tenfold_fee_spike_between_signing_and_sending_re_signs_the_same_nonce(payout):
    deposit = deposit_of(payout, "TestToken")
    before = balance(payout, "TestToken", payout.user)
    refund = advance_until(
        payout, refund_queue(case_id=approved_case(payout, deposit).pk), RefundState.SIGNED
    )
    first_hash, nonce = refund.tx_hash, refund.nonce
    fees_jump(payout, 10)  # the signed max fee (2 x base + tip) is now below the block's base fee

    refund = run_to_end(payout, refund)

    assert (refund.state, refund.nonce, refund.attempts) == (RefundState.CONFIRMED, nonce, 2)
    assert refund.tx_hash != first_hash  # the same nonce, signed again at the new fees
    assert balance(payout, "TestToken", payout.user) - before == deposit.amount  # paid once
    assert payout.nonce(payout.deposit_address) == nonce + 1
    assert refund.top_ups.count() == 2  # the dearer bytes were funded again before they went out


def test_a_node_that_accepts_a_refund_and_forgets_it_gets_the_same_bytes_again(payout):
    deposit = deposit_of(payout, "NoReturnToken")
    refund = refund_queue(case_id=approved_case(payout, deposit).pk)
    refund = advance_until(payout, refund, RefundState.SIGNED)
    payout.node.set_automine(False)
    try:
        refund_advance(refund_id=refund.pk)  # sent: the node holds it in its pool
        refund.refresh_from_db()
        assert refund.state == RefundState.BROADCAST
        payout.node.rpc.call("anvil_dropTransaction", [refund.tx_hash])  # ... and forgets it
        assert payout.node.rpc.call("eth_getTransactionByHash", [refund.tx_hash]) is None

        refund_advance(refund_id=refund.pk)  # nobody knows the attempt: the stored bytes go out again

        assert payout.node.rpc.call("eth_getTransactionByHash", [refund.tx_hash]) is not None
    finally:
        payout.node.set_automine(True)
    refund = run_to_end(payout, refund)
    assert (refund.state, refund.attempts) == (RefundState.CONFIRMED, 1)
    assert payout.nonce(payout.deposit_address) == 1
    assert Refund.objects.get(pk=refund.pk).tx_hash == refund.tx_hash


def test_a_deposit_orphaned_after_its_refund_was_signed_is_not_paid_and_its_nonce_is_spent(payout):
    deposit = deposit_of(payout, "TestToken")
    before = balance(payout, "TestToken", payout.user)
    refund = advance_until(
        payout, refund_queue(case_id=approved_case(payout, deposit).pk), RefundState.SIGNED
    )
    Deposit.objects.filter(pk=deposit.pk).update(status=DepositStatus.ORPHANED)  # as the scanner does

    refund = run_to_end(payout, refund)

    assert refund.state == RefundState.NEEDS_REVIEW and "orphaned after signing" in refund.last_error
    assert balance(payout, "TestToken", payout.user) == before  # nothing paid for a deposit that is gone
    assert payout.nonce(payout.deposit_address) == refund.nonce + 1  # the nonce was used: no gap behind it
    assert refund.attempts == 2  # the payment's bytes, then the no-op that took their nonce
