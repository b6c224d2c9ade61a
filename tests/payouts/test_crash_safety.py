"""Kill -9 on the money path: refunds on a real node, worker processes SIGKILLed at random and at each step.

Two worker processes consume the refunds queue over RabbitMQ while (a) their pool children kill themselves
with SIGKILL at the failpoints after signing, after commit, after broadcast and after the receipt, and
(b) the test SIGKILLs whole worker process groups at random moments and starts new ones. At the end the
chain is counted: every refund paid exactly once, no nonce gaps, no second top-up.
"""

from __future__ import annotations

import collections
import contextlib
import os
import random
import signal
import time

import pytest
from celery import Celery

from recovery.models import (
    AssetPrice,
    DepositAddress,
    GasTopUp,
    GasTopUpBatch,
    Refund,
    RefundState,
    UserProfile,
)
from recovery.payouts.reconcile import reconcile_network
from tests.payout_env import DEPOSIT_INDEX, deposit_of, triaged
from tests.processes import BROKER_URL, celery_worker, require_service

pytestmark = [pytest.mark.anvil, pytest.mark.services, pytest.mark.django_db(transaction=True)]
REFUNDS = 9  # one sender each: anvil accounts 1-9
POINTS = ("after_sign", "after_commit", "after_broadcast", "after_receipt", "after_top_up_commit")
SWEPT_BEFORE = 6  # deposit addresses holding dust from an earlier sweep: their top-ups are batchable
FAILPOINTS = ",".join(f"{point}:once" for point in POINTS)  # every refund dies once at every step
DEADLINE_SECONDS = 240


def kill_group(worker) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.wait()


@pytest.fixture
def sender():
    require_service(BROKER_URL)
    app = Celery("crash-test", broker=BROKER_URL)
    app.control.purge()
    yield app
    app.control.purge()
    app.close()


def test_refunds_are_paid_exactly_once_while_workers_are_killed(payout, sender, tmp_path, monkeypatch):
    from chains.evm.signer import LocalHDSigner

    node, network, c = payout.node, payout.network, payout.contracts
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
    )
    token = c["NoReturnToken"]
    AssetPrice.objects.create(
        network=network, contract=token.address, symbol="NRT", decimals=18, usd_micros_per_unit=10**6
    )
    UserProfile.objects.filter(user=payout.users.alice).update(account_ref="ACC-alice")
    signer = LocalHDSigner(
        os.environ.get("SIGNER_MNEMONIC") or "test test test test test test test test test test test junk"
    )

    # REFUNDS wrong deposits, each from its own sender to its own deposit address, with distinct amounts.
    senders, deposits = node.accounts[1 : 1 + REFUNDS], []
    for n, user in enumerate(senders):
        address = signer.address(DEPOSIT_INDEX + 1 + n)
        DepositAddress.objects.create(
            family="evm", address=address, owner_ref="ACC-alice", derivation_index=DEPOSIT_INDEX + 1 + n
        )
        payout.user, payout.deposit_address = user, address
        if n < SWEPT_BEFORE:
            node.set_balance(address, 10**9)
        deposits.append(deposit_of(payout, "NoReturnToken"))
    minted = {
        user: node.call(token, "balanceOf", user) + d.amount
        for user, d in zip(senders, deposits, strict=True)
    }
    for deposit in deposits:
        assert triaged(deposit_id=deposit.pk).disposition == "auto_return"
    refund_ids = list(Refund.objects.values_list("pk", flat=True))
    assert len(refund_ids) == REFUNDS

    trail, markers = tmp_path / "failpoints.log", tmp_path / "failpoints"
    markers.mkdir()
    env = {
        "RECOVERY_FAILPOINT_DIR": str(markers),
        "RECOVERY_FAILPOINTS": FAILPOINTS,
        "RECOVERY_FAILPOINT_LOG": str(trail),
        "MONEY_TASK_MAX_REDELIVERIES": "1000",
        "GAS_TOP_UP_BATCH_WINDOW_SECONDS": "1",
    }
    started, kills, rng = time.monotonic(), 0, random.Random(7)
    for refund_id in refund_ids:
        sender.send_task("recovery.tasks.refund_advance", args=[refund_id], queue="refunds")
    logs = []
    while time.monotonic() - started < DEADLINE_SECONDS:
        log_path = tmp_path / f"worker-{len(logs)}.log"
        logs.append(log_path)
        with celery_worker(
            queues="refunds", log_path=log_path, concurrency=2, env=env, new_group=True
        ) as worker:
            life = time.monotonic() + rng.uniform(2.0, 6.0)
            while time.monotonic() < life:
                node.mine(1)
                time.sleep(0.3)
            kill_group(worker)
            kills += 1
        open_ids = list(
            Refund.objects.filter(
                state__in=[RefundState.QUEUED, RefundState.SIGNED, RefundState.BROADCAST]
            ).values_list("pk", flat=True)
        )
        if not open_ids:
            break
        # The beat sweeper's job, on a short clock: re-send unfinished refunds (duplicates are fine).
        for refund_id in open_ids:
            sender.send_task("recovery.tasks.refund_advance", args=[refund_id], queue="refunds")
    elapsed = time.monotonic() - started

    states = dict(Refund.objects.values_list("pk", "state"))
    died_at = (
        collections.Counter(line.split()[0] for line in trail.read_text().splitlines())
        if trail.exists()
        else {}
    )
    crashes = sum(died_at.values())
    print(f"\ncrash test: {REFUNDS} refunds in {elapsed:.1f}s; {kills} worker groups killed")
    print(f"crash test: pool children SIGKILLed at {dict(died_at)}")
    assert set(states.values()) == {RefundState.CONFIRMED}, f"unfinished after {elapsed:.0f}s: {states}"
    for user in senders:  # counted on the chain: each sender got its tokens back exactly once
        assert node.call(token, "balanceOf", user) == minted[user]
    for deposit in deposits:  # one transaction from each deposit address: no second payment, no gap
        assert payout.nonce(deposit.recipient) == 1
    gas_wallet = signer.gas_wallet_address()
    sizes = sorted(GasTopUpBatch.objects.values_list("recipients", flat=True))
    print(f"crash test: gas top-up batches of {sizes} addresses")
    assert GasTopUp.objects.filter(state="confirmed").count() == REFUNDS, "one top-up per refund"
    assert sum(sizes) == REFUNDS and set(GasTopUpBatch.objects.values_list("state", flat=True)) == {
        "confirmed"
    }
    assert payout.nonce(gas_wallet) == len(sizes), "each batch mined once, no nonce gaps in the gas wallet"
    assert max(sizes) > 1, "the addresses that exist shared a disperse batch"
    report = reconcile_network(network)  # every nonce of every sending account against the records
    print(f"crash test: reconciliation {report.as_dict()}")
    assert report.clean and report.refunds_paid_once == REFUNDS and report.double_payments == 0
    assert report.gas_wallet_outflow_recorded == report.gas_wallet_outflow_on_chain
    assert GasTopUp.objects.filter(batchable=True).count() == SWEPT_BEFORE
    assert len(died_at) >= 3 and crashes >= REFUNDS // 2, (
        f"too few kills at the failpoints to prove much: {died_at}"
    )
