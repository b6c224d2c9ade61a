"""The one door money leaves through checks what it signs: approved terms, the right key."""

from __future__ import annotations

import pytest

from chains.evm.refund import native_transfer, unsigned_tx
from chains.evm.signer import GAS_WALLET, Fees
from recovery.models import Approval
from recovery.payouts.refunds import refund_queue
from recovery.payouts.signing import RefundBlocked, gas_top_up_sign, refund_sign
from tests.payout_env import deposit_of
from tests.payouts.test_refunds_evm import approved_case

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]
FEES = Fees(max_fee_per_gas=10**9, max_priority_fee_per_gas=10**9)


def transfer(payout, key):
    call = native_transfer(payout.user, 1)
    return unsigned_tx(call, key=key, nonce=0, gas=21_000, fees=FEES, chain_id=payout.network.chain_id)


def test_a_refund_is_signed_with_its_own_deposit_key_and_no_other(payout):
    refund = refund_queue(case_id=approved_case(payout, deposit_of(payout, "NoReturnToken")).pk)

    assert refund_sign(refund, transfer(payout, refund.key_index)).sender == refund.sender
    with pytest.raises(RefundBlocked, match="its deposit address's key"):
        refund_sign(refund, transfer(payout, GAS_WALLET))
    with pytest.raises(RefundBlocked, match="its deposit address's key"):
        refund_sign(refund, transfer(payout, refund.key_index + 1))


def test_a_refund_whose_approval_was_removed_behind_the_workflow_is_not_signed(payout):
    case = approved_case(payout, deposit_of(payout, "NoReturnToken"))
    refund = refund_queue(case_id=case.pk)
    Approval.objects.filter(case=case).delete()  # forged around the services, as SQL could

    with pytest.raises(RefundBlocked, match="approvals are not complete"):
        refund_sign(refund, transfer(payout, refund.key_index))


def test_the_gas_wallet_signs_only_gas_top_ups(payout):
    assert gas_top_up_sign(payout.network, transfer(payout, GAS_WALLET)).txid
    with pytest.raises(ValueError, match="gas wallet's key"):
        gas_top_up_sign(payout.network, transfer(payout, 1000))
