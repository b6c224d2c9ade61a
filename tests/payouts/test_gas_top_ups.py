"""Batched gas top-ups on a real node: one gas-wallet transaction funds many deposit addresses, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chains.evm.signer import LocalHDSigner
from recovery.models import (
    GasTopUp,
    GasTopUpBatch,
    GasTopUpState,
    RefundState,
)
from recovery.payouts import gas_top_ups
from recovery.payouts.refunds import refund_advance
from tests.payout_env import Payout, fees_jump, run_to_end, token_returns

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def gas_used(p: Payout, tx_hash: str) -> int:
    return int(p.node.rpc.call("eth_getTransactionReceipt", [tx_hash])["gasUsed"], 16)


def gas_wallet(p: Payout) -> str:
    from django.conf import settings

    return LocalHDSigner(settings.SIGNER_MNEMONIC).gas_wallet_address()


def test_a_full_batch_funds_every_address_in_one_transaction(payout, settings):
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600  # only a full batch goes out
    settings.GAS_TOP_UP_BATCH_MAX = 5
    refunds = token_returns(payout, 5)

    for refund in refunds[:4]:
        refund_advance(refund_id=refund.pk)
    assert GasTopUp.objects.filter(state=GasTopUpState.PENDING).count() == 4
    assert not GasTopUpBatch.objects.exists() and payout.nonce(gas_wallet(payout)) == 0
    refund_advance(refund_id=refunds[4].pk)  # the fifth fills the batch

    batch = GasTopUpBatch.objects.get()
    assert batch.recipients == 5 and batch.total == sum(t.amount for t in GasTopUp.objects.all())
    for refund in refunds:
        assert run_to_end(payout, refund).state == RefundState.CONFIRMED
        assert payout.nonce(refund.sender) == 1
    batch.refresh_from_db()
    assert batch.state == "confirmed" and batch.fee_paid > 0
    assert set(GasTopUp.objects.values_list("state", flat=True)) == {GasTopUpState.CONFIRMED}
    assert payout.nonce(gas_wallet(payout)) == 1, "one gas-wallet transaction for five addresses"
    assert gas_used(payout, batch.tx_hash) < 5 * 21_000, "cheaper than five plain transfers"


def test_a_top_up_waits_the_window_for_company_then_goes_with_what_is_waiting(payout, settings):
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 30
    refunds = token_returns(payout, 3)
    for refund in refunds[:2]:
        refund_advance(refund_id=refund.pk)
    assert not GasTopUpBatch.objects.exists()

    GasTopUp.objects.update(created_at=timezone.now() - timedelta(seconds=31))  # the window has passed
    refund_advance(refund_id=refunds[0].pk)

    batch = GasTopUpBatch.objects.get()
    assert batch.recipients == 2
    assert set(batch.top_ups.values_list("refund", flat=True)) == {refunds[0].pk, refunds[1].pk}
    refund_advance(refund_id=refunds[2].pk)  # came later: waits for the next window
    assert GasTopUp.objects.get(refund=refunds[2]).state == GasTopUpState.PENDING


def test_an_empty_address_gets_a_plain_transfer_at_once_which_costs_less_there(payout, settings):
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600
    refunds = token_returns(payout, 2, swept_before=False)
    for refund in refunds:
        refund_advance(refund_id=refund.pk)  # no waiting for company

    assert list(GasTopUpBatch.objects.values_list("recipients", flat=True)) == [1, 1]
    assert not GasTopUp.objects.filter(batchable=True).exists()
    for refund in refunds:
        assert run_to_end(payout, refund).state == RefundState.CONFIRMED
    for batch in GasTopUpBatch.objects.all():
        assert gas_used(payout, batch.tx_hash) == 21_000


def test_without_a_disperse_contract_each_address_gets_its_own_transfer(payout):
    payout.network.options.pop("gas_disperse")
    payout.network.save()
    refunds = token_returns(payout, 3)

    for refund in refunds:
        assert run_to_end(payout, refund).state == RefundState.CONFIRMED

    assert list(GasTopUpBatch.objects.values_list("recipients", flat=True)) == [1, 1, 1]
    assert payout.nonce(gas_wallet(payout)) == 3
    for batch in GasTopUpBatch.objects.all():
        assert gas_used(payout, batch.tx_hash) == 21_000


def test_a_disperse_address_without_code_is_refused_and_nothing_is_sent(payout):
    payout.network.options["gas_disperse"] = payout.node.accounts[9]  # an account, not a contract
    payout.network.save()
    (refund,) = token_returns(payout, 1)
    refund_advance(refund_id=refund.pk)
    refund.refresh_from_db()
    assert refund.state == RefundState.NEEDS_REVIEW and "has no code" in refund.last_error
    assert payout.nonce(gas_wallet(payout)) == 0 and not GasTopUpBatch.objects.exists()


def test_a_batch_stored_but_never_sent_goes_out_with_the_same_bytes(payout, settings):
    """As after a worker died between committing the batch and broadcasting it."""
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600
    refunds = token_returns(payout, 3)
    for refund in refunds:
        refund_advance(refund_id=refund.pk)
    (batch,) = gas_top_ups.batches_sign(payout.network, payout.chain)  # signed and stored, not sent
    assert payout.node.rpc.call("eth_getTransactionByHash", [batch.tx_hash]) is None

    for refund in refunds:
        assert run_to_end(payout, refund).state == RefundState.CONFIRMED

    assert GasTopUpBatch.objects.get().tx_hash == batch.tx_hash
    assert payout.node.rpc.call("eth_getTransactionReceipt", [batch.tx_hash])["status"] == "0x1"
    assert payout.nonce(gas_wallet(payout)) == 1


def test_an_address_that_refuses_coin_fails_alone_and_the_others_are_funded(payout, settings):
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600
    refunds = token_returns(payout, 3)
    for refund in refunds:
        refund_advance(refund_id=refund.pk)
    refusing = payout.contracts["TestToken"].address  # a contract with no receive(): the transfer reverts
    GasTopUp.objects.filter(refund=refunds[1]).update(recipient=refusing)

    batches = gas_top_ups.batches_sign(payout.network, payout.chain)

    assert [b.recipients for b in batches] == [1, 1, 1], "the disperse would revert: one transfer each"
    outcomes = {}
    for refund in refunds:
        outcomes[refund.pk] = run_to_end(payout, refund).state
    assert outcomes == {
        refunds[0].pk: RefundState.CONFIRMED,
        refunds[1].pk: RefundState.NEEDS_REVIEW,
        refunds[2].pk: RefundState.CONFIRMED,
    }
    assert GasTopUp.objects.get(refund=refunds[1]).state == GasTopUpState.FAILED


def test_a_top_up_no_longer_needed_before_batching_is_cancelled(payout, settings):
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600
    (refund,) = token_returns(payout, 1)
    refund_advance(refund_id=refund.pk)
    assert GasTopUp.objects.get(refund=refund).state == GasTopUpState.PENDING
    payout.node.set_balance(refund.sender, 10**18)  # someone else paid for the gas

    assert run_to_end(payout, refund).state == RefundState.CONFIRMED

    assert GasTopUp.objects.get(refund=refund).state == GasTopUpState.CANCELLED
    assert not GasTopUpBatch.objects.exists() and payout.nonce(gas_wallet(payout)) == 0


def test_the_scanner_does_not_take_a_batch_for_deposits(payout, settings):
    """The disperse contract pays the addresses in internal calls; those are our coin, not deposits."""
    from recovery.deposits.scanning import network_scan
    from recovery.models import Deposit

    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 3600
    refunds = token_returns(payout, 2)
    for refund in refunds:
        refund_advance(refund_id=refund.pk)
    (batch,) = gas_top_ups.batches_sign(payout.network, payout.chain)
    deposits_before = Deposit.objects.count()
    for refund in refunds:
        assert run_to_end(payout, refund).state == RefundState.CONFIRMED
    payout.node.mine(3)

    report = network_scan(network_id=payout.network.pk)

    assert Deposit.objects.count() == deposits_before
    assert not Deposit.objects.filter(txid=batch.tx_hash).exists()
    assert any("our own gas top-up" in item for item in report.skipped_items)


def test_a_batch_a_reorg_took_away_goes_out_again_before_it_settles(payout):
    (refund,) = token_returns(payout, 1, swept_before=False)
    refund_advance(refund_id=refund.pk)  # the top-up batch is signed and sent, and mined (automine)
    batch = GasTopUpBatch.objects.get()
    payout.node.wait_receipt(batch.tx_hash)
    gas_top_ups.batch_follow(batch, payout.chain)  # seen mined: not yet settled
    payout.node.reorg(1)  # ... then a reorg takes its block away (the pool forgets it too)
    payout.node.drop_pending()
    assert payout.nonce(gas_wallet(payout)) == 0

    refund = run_to_end(payout, refund)

    assert refund.state == RefundState.CONFIRMED
    batch.refresh_from_db()
    assert batch.state == "confirmed" and payout.nonce(gas_wallet(payout)) == 1  # the same bytes, no gap


def test_a_batch_is_settled_only_at_the_networks_depth(payout):
    (refund,) = token_returns(payout, 1, swept_before=False)
    refund_advance(refund_id=refund.pk)
    batch = GasTopUpBatch.objects.get()
    payout.node.wait_receipt(batch.tx_hash)

    payout.node.mine(payout.network.confirmations - 1)
    gas_top_ups.batch_follow(batch, payout.chain)
    assert GasTopUpBatch.objects.get().state != "confirmed"  # mined, but a reorg could still take it
    payout.node.mine(1)
    gas_top_ups.batch_follow(batch, payout.chain)
    assert GasTopUpBatch.objects.get().state == "confirmed"


def test_the_sweeper_follows_a_batch_no_refund_follows_any_more(payout, settings):
    settings.REFUND_STUCK_AFTER_SECONDS = 0
    (refund,) = token_returns(payout, 1, swept_before=False)
    refund_advance(refund_id=refund.pk)
    batch = GasTopUpBatch.objects.get()
    payout.node.wait_receipt(batch.tx_hash)
    payout.node.mine(payout.network.confirmations + 1)

    assert gas_top_ups.batches_unsettled_follow() == 1

    assert GasTopUpBatch.objects.get().state == "confirmed"
    assert gas_top_ups.batches_unsettled_follow() == 0


def test_fees_that_outgrow_a_confirmed_top_up_get_another_not_an_endless_wait(payout):
    (refund,) = token_returns(payout, 1, swept_before=False)
    refund_advance(refund_id=refund.pk)  # top-up sent
    payout.node.mine(payout.network.confirmations + 1)
    fees_jump(payout, 10)  # before the refund is signed, fees rise past what the top-up covered

    refund = run_to_end(payout, refund)

    assert (refund.state, refund.last_error) == (RefundState.CONFIRMED, "")
    assert list(refund.top_ups.values_list("state", flat=True)) == ["confirmed", "confirmed"]


def test_fees_that_keep_outgrowing_the_top_ups_go_to_a_person(payout, settings):
    settings.GAS_TOP_UPS_PER_REFUND_MAX = 1
    (refund,) = token_returns(payout, 1, swept_before=False)
    refund_advance(refund_id=refund.pk)
    payout.node.mine(payout.network.confirmations + 1)
    fees_jump(payout, 10)

    refund = run_to_end(payout, refund)

    assert refund.state == RefundState.NEEDS_REVIEW and "fees still outgrow them" in refund.last_error
    assert refund.nonce is None  # nothing was signed: no nonce left behind
