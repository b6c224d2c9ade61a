"""From a block to a confirmed refund with no human step: beat, two workers, RabbitMQ, PostgreSQL, anvil.

Beat fans out the scans; both workers consume every queue; the advisory lock keeps one scanner per network;
each deposit is recorded once, triaged once, refunded once. Nothing in the test process does the work.
"""

from __future__ import annotations

import time

import pytest
from celery import Celery

from recovery.models import (
    AssetPrice,
    CaseEvent,
    Deposit,
    DepositAddress,
    GasTopUp,
    Network,
    RecoveryCase,
    Refund,
    RefundState,
    State,
    UserProfile,
)
from tests.payout_env import DEPOSIT_INDEX
from tests.processes import BROKER_URL, celery_beat, celery_worker, require_service, wait_for

pytestmark = [pytest.mark.anvil, pytest.mark.services, pytest.mark.django_db(transaction=True)]
DEPOSITS = 6


def test_two_workers_and_a_beat_return_every_unsupported_deposit_once(payout, tmp_path):
    require_service(BROKER_URL)
    purge = Celery("purge", broker=BROKER_URL)
    purge.control.purge()
    node, network, c = payout.node, payout.network, payout.contracts
    token = c["NoReturnToken"]
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
    )
    AssetPrice.objects.create(
        network=network, contract=token.address, symbol="NRT", decimals=18, usd_micros_per_unit=10**6
    )
    UserProfile.objects.filter(user=payout.users.alice).update(account_ref="ACC-alice")
    Network.objects.filter(pk=network.pk).update(scan_enabled=True)

    from django.conf import settings

    from chains.evm.signer import LocalHDSigner

    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    senders = node.accounts[1 : 1 + DEPOSITS]
    addresses = []
    for n in range(DEPOSITS):
        address = signer.address(DEPOSIT_INDEX + 50 + n)
        DepositAddress.objects.create(
            family="evm", address=address, owner_ref="ACC-alice", derivation_index=DEPOSIT_INDEX + 50 + n
        )
        addresses.append(address)
    before = {user: node.call(token, "balanceOf", user) for user in senders}

    logs = [tmp_path / "w1.log", tmp_path / "w2.log"]
    queues = "scan,verify,refunds,notify"
    with (
        celery_worker(queues=queues, log_path=logs[0], concurrency=2, name="w1"),
        celery_worker(queues=queues, log_path=logs[1], concurrency=2, name="w2"),
        celery_beat(log_path=tmp_path / "beat.log", schedule_path=tmp_path / "beat-schedule"),
    ):
        started = time.monotonic()
        for user, address in zip(
            senders, addresses, strict=True
        ):  # the wrong deposits, while the system runs
            node.transact(token, "mint", user, 5 * 10**18)
            node.transact(token, "transfer", address, 2 * 10**18, sender=user)

        def all_returned() -> bool:
            node.mine(1)
            return Refund.objects.filter(state=RefundState.CONFIRMED).count() >= DEPOSITS

        done = wait_for(all_returned, timeout=180, interval=0.5)
        elapsed = time.monotonic() - started
        time.sleep(3)  # let any duplicate work that might still be in flight show itself

    print(f"\npipeline: {DEPOSITS} deposits detected and returned in {elapsed:.1f}s by 2 workers and 1 beat")
    assert done, f"only {Refund.objects.filter(state=RefundState.CONFIRMED).count()} of {DEPOSITS} returned"
    assert Deposit.objects.filter(recipient__in=addresses).count() == DEPOSITS
    assert RecoveryCase.objects.filter(state=State.COMPLETED).count() == DEPOSITS
    assert Refund.objects.count() == DEPOSITS and GasTopUp.objects.count() == DEPOSITS
    assert set(Refund.objects.values_list("attempts", flat=True)) == {1}
    for user in senders:
        assert (
            node.call(token, "balanceOf", user) == before[user] + 5 * 10**18
        )  # minted 5, sent 2, got 2 back
    for address in addresses:
        assert payout.nonce(address) == 1
    assert CaseEvent.objects.filter(kind="auto_approve").count() == DEPOSITS
    worked = [log.read_text(errors="replace").count(" succeeded in ") for log in logs]
    assert all(n > 0 for n in worked), f"both workers should have taken work: {worked}"
