"""Several refunds from one deposit address are planned together: each counts the gas the others may still
spend from the same balance, so none is signed against money another will use."""

from __future__ import annotations

import pytest

from recovery.models import Refund, RefundState
from recovery.payouts.refunds import refund_advance, refund_queue
from tests.payout_env import deposit_of
from tests.payouts.test_refunds_evm import approved_case

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def advance_until(payout, refund: Refund, state: RefundState, steps: int = 20) -> Refund:
    for _ in range(steps):
        refund.refresh_from_db()
        if refund.state != RefundState.QUEUED:
            break
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)
    refund.refresh_from_db()
    assert refund.state == state, refund.last_error
    return refund


def test_a_second_refund_is_funded_for_itself_not_with_the_first_ones_gas(payout):
    deposits = [deposit_of(payout, "NoReturnToken"), deposit_of(payout, "TestToken")]
    first, second = (refund_queue(case_id=approved_case(payout, d).pk) for d in deposits)

    advance_until(payout, first, RefundState.SIGNED)  # signed, its gas not yet spent
    advance_until(payout, second, RefundState.SIGNED)

    for _ in range(40):
        if all(Refund.objects.get(pk=r.pk).state == RefundState.CONFIRMED for r in (first, second)):
            break
        for refund in (first, second):
            refund_advance(refund_id=refund.pk)
        payout.node.mine(1)

    states = [Refund.objects.get(pk=r.pk) for r in (first, second)]
    assert [(r.state, r.last_error) for r in states] == [(RefundState.CONFIRMED, "")] * 2
    assert sorted(r.nonce for r in states) == [0, 1]
    assert payout.nonce(payout.deposit_address) == 2  # both mined, no gap, nothing refused
    assert all(r.top_ups.get().amount > 0 for r in states)  # each paid for by a top-up of its own


def test_the_refunds_of_an_address_go_out_in_nonce_order(payout):
    deposits = [deposit_of(payout, "NoReturnToken"), deposit_of(payout, "TestToken")]
    first, second = (refund_queue(case_id=approved_case(payout, d).pk) for d in deposits)
    first, second = (
        advance_until(payout, first, RefundState.SIGNED),
        advance_until(payout, second, RefundState.SIGNED),
    )
    earlier, later = sorted((first, second), key=lambda r: r.nonce)

    refund_advance(refund_id=later.pk)  # its turn has not come: nothing is sent

    later.refresh_from_db()
    assert later.state == RefundState.SIGNED and payout.nonce(payout.deposit_address) == 0
    refund_advance(refund_id=earlier.pk)
    refund_advance(refund_id=later.pk)
    assert [Refund.objects.get(pk=r.pk).state for r in (earlier, later)] == [RefundState.BROADCAST] * 2


def test_a_refusal_for_funds_is_not_final_the_address_is_funded_and_the_same_bytes_sent(payout):
    refund = refund_queue(case_id=approved_case(payout, deposit_of(payout, "NoReturnToken")).pk)
    refund = advance_until(payout, refund, RefundState.SIGNED)
    signed_bytes, signed_hash = refund.raw_tx, refund.tx_hash
    payout.node.set_balance(payout.deposit_address, 0)  # drained between signing and sending

    refund_advance(refund_id=refund.pk)  # the node refuses it for funds; another top-up is filed

    refund.refresh_from_db()
    assert refund.state == RefundState.SIGNED and "waiting for funds" in refund.last_error
    for _ in range(20):
        if Refund.objects.get(pk=refund.pk).state == RefundState.CONFIRMED:
            break
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)
    refund.refresh_from_db()
    assert (refund.state, refund.attempts, refund.raw_tx, refund.tx_hash) == (
        RefundState.CONFIRMED,
        1,
        signed_bytes,
        signed_hash,
    )  # the very bytes signed before the refusal: never re-signed
    assert [t.state for t in refund.top_ups.order_by("pk")] == ["confirmed", "confirmed"]
    assert payout.nonce(payout.deposit_address) == 1
