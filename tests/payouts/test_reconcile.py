"""Reconciliation on a real node: every nonce our accounts used is one mined record of ours, every refund's
record agrees with the chain, and anything sent outside the system is reported at its account and nonce."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from chains.evm.refund import current_fees, native_transfer, unsigned_tx
from chains.evm.signer import GAS_WALLET, LocalHDSigner
from recovery.models import (
    GasTopUpBatch,
    Network,
    Refund,
    RefundState,
)
from recovery.payouts.reconcile import Kind, ReconcileReport, reconcile_network
from recovery.payouts.refunds import refund_advance
from recovery.payouts.tasks import reconcile_networks
from tests.payout_env import Payout, run_to_end, token_returns

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def paid_refunds(p: Payout, *, existing: int = 3, empty: int = 1) -> list[Refund]:
    """Token auto-returns run to the end: the `existing` addresses (holding dust from a past sweep) funded
    by one disperse batch, the `empty` ones by a plain transfer each from the gas wallet."""
    refunds = token_returns(p, existing, swept_before=True) + token_returns(p, empty, swept_before=False)
    with override_settings(GAS_TOP_UP_BATCH_WINDOW_SECONDS=3600, GAS_TOP_UP_BATCH_MAX=max(existing, 1)):
        for refund in refunds:
            refund_advance(refund_id=refund.pk)  # files the top-ups; the last existing one fills the batch
    for refund in refunds:
        assert run_to_end(p, refund).state == RefundState.CONFIRMED
    return [Refund.objects.get(pk=r.pk) for r in refunds]


def send_outside(p: Payout, key: int | str, sender: str) -> str:
    """Sign with the system's own key, but outside the system, and send the raw bytes: mined, unrecorded."""
    p.node.set_balance(sender, 10**18)  # coin for the gas, as if a deposit had arrived
    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    fees = current_fees(p.node.rpc, eip1559=True)
    call = native_transfer(p.user, 10**15)
    unsigned = unsigned_tx(call, key=key, nonce=p.nonce(sender), gas=21_000, fees=fees, chain_id=31337)
    signed = signer.sign(unsigned)
    assert signed.sender == sender
    txid = p.node.rpc.call("eth_sendRawTransaction", ["0x" + signed.raw.hex()])
    assert p.node.wait_receipt(txid)["status"] == "0x1"  # anvil seals asynchronously: poll
    return txid


def gas_wallet() -> str:
    return LocalHDSigner(settings.SIGNER_MNEMONIC).gas_wallet_address()


def only(report: ReconcileReport, kind: Kind):
    found = [d for d in report.discrepancies if d.kind == kind]
    assert len(found) == 1, report.discrepancies
    return found[0]


def test_after_token_refunds_with_gas_top_ups_the_report_is_clean_with_the_right_counts(payout):
    refunds = paid_refunds(payout)
    batches = list(GasTopUpBatch.objects.all())
    assert len(batches) >= 2 and {b.state for b in batches} == {"confirmed"}

    report = reconcile_network(payout.network)

    assert report.discrepancies == [] and report.clean
    assert report.checked and report.refunds_checked == 4 and report.refunds_paid_once == 4
    assert (report.double_payments, report.unrecorded_outflows, report.mismatches) == (0, 0, 0)
    assert report.accounts == 5, "four deposit addresses and the gas wallet"
    assert report.transactions == 4 + len(batches) == 4 + payout.nonce(gas_wallet())
    recorded = sum(b.total + b.fee_paid for b in batches)
    assert report.gas_wallet_outflow_recorded == report.gas_wallet_outflow_on_chain == recorded > 0
    assert report.gas_batches_checked == len(batches)
    assert report.refund_gas_fees_on_chain > 0
    token = payout.contracts["NoReturnToken"].address
    assert report.refunds_paid_recorded == {token: sum(r.amount for r in refunds)}


def test_a_transaction_sent_from_a_deposit_address_outside_the_system_is_an_unrecorded_outflow(payout):
    refund = paid_refunds(payout, existing=2, empty=0)[0]

    txid = send_outside(payout, refund.key_index, refund.sender)

    report = reconcile_network(payout.network)
    outflow = only(report, Kind.UNRECORDED_OUTFLOW)
    assert (outflow.account, outflow.nonce) == (refund.sender, 1), "the nonce after the refund's"
    assert outflow.txid == txid, "anvil indexes transactions by sender and nonce"
    assert report.unrecorded_outflows == 1 and report.mismatches == 0 and not report.clean
    assert report.refunds_paid_once == 2, "the refunds themselves still agree with the chain"


def test_a_transaction_sent_from_the_gas_wallet_outside_the_system_is_an_unrecorded_outflow(payout):
    paid_refunds(payout, existing=2, empty=1)
    used = payout.nonce(gas_wallet())

    txid = send_outside(payout, GAS_WALLET, gas_wallet())

    report = reconcile_network(payout.network)
    outflow = only(report, Kind.UNRECORDED_OUTFLOW)
    assert (outflow.account, outflow.nonce, outflow.txid) == (gas_wallet(), used, txid)
    assert report.unrecorded_outflows == 1 and not report.clean
    assert report.gas_wallet_outflow_recorded == report.gas_wallet_outflow_on_chain, "ours still agree"


def test_the_gas_wallet_is_checked_even_before_it_has_sent_any_batch(payout):
    txid = send_outside(payout, GAS_WALLET, gas_wallet())

    report = reconcile_network(payout.network)

    outflow = only(report, Kind.UNRECORDED_OUTFLOW)
    assert (outflow.account, outflow.nonce, outflow.txid) == (gas_wallet(), 0, txid)


def test_a_confirmed_refund_whose_transaction_is_not_on_the_chain_is_reported(payout):
    refund = paid_refunds(payout, existing=2, empty=0)[1]
    Refund.objects.filter(pk=refund.pk).update(tx_hash="0x" + "ab" * 32)

    report = reconcile_network(payout.network)

    mismatch = only(report, Kind.REFUND_MISMATCH)
    assert (mismatch.refund_id, mismatch.account, mismatch.nonce) == (refund.pk, refund.sender, 0)
    assert "is not on the chain" in mismatch.detail
    assert report.mismatches == 1 and report.unrecorded_outflows == 0 and not report.clean


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"block_number": 1}, "recorded in block 1"),
        ({"state": RefundState.FAILED}, "recorded as failed, but it paid"),
        ({"state": RefundState.QUEUED}, "never signed, but a transaction of it is mined"),
    ],
)
def test_a_refund_record_that_disagrees_with_the_chain_is_a_mismatch(payout, change, expected):
    refund = paid_refunds(payout, existing=1, empty=0)[0]
    Refund.objects.filter(pk=refund.pk).update(**change)

    report = reconcile_network(payout.network)

    mismatches = [d for d in report.discrepancies if d.kind == Kind.REFUND_MISMATCH]
    assert {d.refund_id for d in mismatches} == {refund.pk} and len(report.discrepancies) == len(mismatches)
    assert any(expected in d.detail for d in mismatches), mismatches


def test_a_refund_whose_every_attempt_is_unknown_to_us_leaves_its_nonce_unrecorded(payout):
    """Records that lost the mined hash: the refund is a mismatch and its nonce is explained by nothing."""
    refund = paid_refunds(payout, existing=1, empty=0)[0]
    Refund.objects.filter(pk=refund.pk).update(tx_hash="0x" + "cd" * 32)
    refund.attempt_rows.update(tx_hash="0x" + "ef" * 32)

    report = reconcile_network(payout.network)

    assert only(report, Kind.REFUND_MISMATCH).refund_id == refund.pk
    outflow = only(report, Kind.UNRECORDED_OUTFLOW)
    assert (outflow.account, outflow.nonce) == (refund.sender, 0)


def test_a_deposit_paid_by_two_refunds_is_a_double_payment(payout):
    first, second = paid_refunds(payout, existing=2, empty=0)
    # As if a second refund of the first deposit had been paid (and then recorded as failed).
    Refund.objects.filter(pk=second.pk).update(deposit=first.deposit, state=RefundState.FAILED)

    report = reconcile_network(payout.network)

    double = only(report, Kind.DOUBLE_PAYMENT)
    assert double.refund_id == second.pk and f"deposit {first.deposit_id} paid 2 times" in double.detail
    assert report.double_payments == 1 and report.refunds_paid_once == 0 and not report.clean


def test_a_gas_batch_recorded_with_the_wrong_fee_is_a_mismatch(payout):
    paid_refunds(payout, existing=2, empty=0)
    batch = GasTopUpBatch.objects.first()
    GasTopUpBatch.objects.filter(pk=batch.pk).update(fee_paid=batch.fee_paid + 1)

    report = reconcile_network(payout.network)

    mismatch = only(report, Kind.BATCH_MISMATCH)
    assert (mismatch.batch_id, mismatch.account, mismatch.nonce) == (batch.pk, gas_wallet(), batch.nonce)
    assert report.gas_wallet_outflow_recorded == report.gas_wallet_outflow_on_chain + 1


def test_the_command_exits_1_on_discrepancies_and_0_when_clean(payout, capsys):
    refund = paid_refunds(payout, existing=1, empty=0)[0]
    bitcoin = {"name": "Bitcoin regtest", "family": "bitcoin", "confirmations": 1, "native_symbol": "BTC"}
    Network.objects.create(slug="bitcoin-regtest", scan_enabled=True, **bitcoin)

    call_command("reconcile")  # every scanned network and every one we paid on; no SystemExit: status 0
    clean = capsys.readouterr().out
    assert "anvil (evm): CLEAN" in clean and "refunds checked 1, paid exactly once 1" in clean
    assert "bitcoin-regtest (bitcoin): NOT CHECKED" in clean, "said plainly, and not a failure"

    send_outside(payout, refund.key_index, refund.sender)
    with pytest.raises(SystemExit) as exited:
        call_command("reconcile", "--network", "anvil")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "1 DISCREPANCIES" in out and f"unrecorded_outflow account {refund.sender} nonce 1" in out


def test_the_task_logs_an_error_per_discrepancy_with_network_account_and_nonce(payout, caplog):
    refund = paid_refunds(payout, existing=1, empty=0)[0]
    send_outside(payout, refund.key_index, refund.sender)
    send_outside(payout, GAS_WALLET, gas_wallet())

    with caplog.at_level(logging.ERROR, logger="recovery.payouts.tasks"):
        result = reconcile_networks()

    logged = {(r.network, r.account, r.nonce) for r in caplog.records if r.levelno == logging.ERROR}
    assert logged == {("anvil", refund.sender, 1), ("anvil", gas_wallet(), 1)}
    assert result["anvil"]["unrecorded_outflows"] == 2 and result["anvil"]["clean"] is False


@pytest.mark.django_db
def test_bitcoin_networks_are_reported_as_not_reconciled_never_as_clean():
    network = Network.objects.create(
        slug="bitcoin-regtest", name="Bitcoin regtest", family="bitcoin", confirmations=1, native_symbol="BTC"
    )

    report = reconcile_network(network)

    assert not report.checked and not report.clean
    assert "not implemented for Bitcoin" in report.note


@pytest.mark.django_db
def test_a_node_that_cannot_be_read_is_not_clean_and_the_command_exits_2(capsys):
    Network.objects.create(
        slug="down",
        name="Down",
        family="evm",
        chain_id=1,
        confirmations=1,
        native_symbol="ETH",
        scan_enabled=True,
        rpc_url="http://127.0.0.1:9",  # nothing listens on the discard port
    )
    Network.objects.create(
        slug="bitcoin-regtest",
        name="Bitcoin regtest",
        family="bitcoin",
        confirmations=1,
        native_symbol="BTC",
        scan_enabled=True,
    )

    with pytest.raises(SystemExit) as exited:
        call_command("reconcile")

    assert exited.value.code == 2
    out = capsys.readouterr().out
    assert "down (evm): NOT CHECKED: could not read the chain" in out
    assert "bitcoin-regtest (bitcoin): NOT CHECKED: reconciliation is not implemented" in out
