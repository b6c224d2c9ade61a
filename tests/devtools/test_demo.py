"""The demo set-up on the session anvil node: its deposits are returned or queued for staff, as told.

The process tree (`manage.py demo`: anvil, web, worker, beat) is checked by hand (docs/demo.md); here the
chain set-up, the deposits and the supervisor that stops the children are.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from recovery.cases.actions import REFUND_ADDRESS_REQUEST, open_request
from recovery.deposits.scanning import network_scan
from recovery.devtools.demo import demo_seed
from recovery.devtools.demo_chain import demo_chain_setup, demo_deposits_send
from recovery.devtools.supervisor import RESTARTS, Supervisor
from recovery.models import (
    AssetPrice,
    Deposit,
    Disposition,
    ListedAsset,
    Network,
    RecoveryCase,
    Refund,
    RefundState,
    State,
)
from recovery.payouts.refunds import refund_advance
from tests.payout_env import triaged


@pytest.mark.anvil
@pytest.mark.django_db
def test_demo_deposits_are_returned_automatically_except_the_large_one_and_the_listed_one(evm_snapshot):
    node = evm_snapshot
    demo_seed()
    chain = demo_chain_setup(node=node)
    network = Network.objects.get(slug="anvil")
    assert network.scan_enabled and network.rpc_url == node.url
    assert ListedAsset.objects.filter(network=network, contract="").exists()  # ETH
    assert ListedAsset.objects.filter(network=network, contract=chain.contracts["listed"].address).exists()
    assert AssetPrice.objects.filter(network=network, contract=chain.contracts["nft"].address).exists()

    sent = demo_deposits_send(node=node, chain=chain)
    node.mine(network.confirmations)
    network_scan(network_id=network.pk)
    for deposit in Deposit.objects.filter(network=network):
        triaged(deposit_id=deposit.pk)

    dispositions = sorted(Deposit.objects.filter(network=network).values_list("disposition", flat=True))
    assert dispositions == sorted(
        [Disposition.AUTO_RETURN] * 3 + [Disposition.MANUAL_REVIEW, Disposition.NORMAL_CREDIT]
    )
    # The large one waits for staff, and first for alice: it has no refund address yet, so she is asked.
    waiting = RecoveryCase.objects.get(state=State.NEEDS_INFO)
    assert waiting.user.username == "alice" and waiting.deposit.txid == sent[3].txid
    assert open_request(waiting) == REFUND_ADDRESS_REQUEST

    for refund in Refund.objects.all():  # what the refunds worker does, a block between steps
        for _ in range(40):
            if refund_advance(refund_id=refund.pk) is None:
                break
            node.mine(1)
    assert sorted(Refund.objects.values_list("state", flat=True)) == [RefundState.CONFIRMED] * 3
    assert RecoveryCase.objects.filter(state=State.COMPLETED, user__username="alice").count() == 3
    wdc, nft = chain.contracts["unsupported"], chain.contracts["nft"]
    assert node.call(wdc, "balanceOf", node.accounts[1]) == 25 * 10**18  # minted 25, sent 25, got 25 back
    assert node.call(nft, "ownerOf", 7).lower() == node.accounts[3].lower()


def test_supervisor_stop_ends_each_child_and_what_it_forked(tmp_path: Path):
    grandchild_pid = tmp_path / "grandchild.pid"
    # The child ignores SIGTERM and leaves a grandchild: only the process-group SIGKILL ends both.
    script = f"trap '' TERM; sleep 60 & echo $! > {grandchild_pid}; wait"
    supervisor = Supervisor(cwd=tmp_path, stop_timeout=1)
    child = supervisor.start("stubborn", ["sh", "-c", script], log=tmp_path / "logs" / "stubborn.log")
    supervisor.start("quick", [sys.executable, "-c", "import time; time.sleep(60)"])
    deadline = time.monotonic() + 5
    while not grandchild_pid.exists() or not grandchild_pid.read_text().strip():
        assert time.monotonic() < deadline, "the child never started its grandchild"
        time.sleep(0.05)
    grandchild = int(grandchild_pid.read_text())

    started = time.monotonic()
    supervisor.stop()

    assert time.monotonic() - started < 8
    assert all(process.poll() is not None for process in supervisor.children.values())
    assert child.returncode == -signal.SIGKILL
    assert gone(grandchild, within=3)


def gone(pid: int, *, within: float) -> bool:
    """The orphaned grandchild is reaped by init shortly after it dies."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_supervisor_wait_returns_when_a_child_stops(tmp_path: Path):
    supervisor = Supervisor(cwd=tmp_path)
    supervisor.start("short", [sys.executable, "-c", "pass"])
    supervisor.start("long", [sys.executable, "-c", "import time; time.sleep(60)"])
    with supervisor:
        assert supervisor.wait() == "short stopped"
    assert supervisor.children["long"].poll() is not None


def test_supervisor_starts_a_dead_worker_again_then_gives_up(tmp_path: Path):
    """A worker that dies (kombu's filesystem transport, celery/kombu#1551) no longer stops the demo."""
    runs = tmp_path / "runs"
    supervisor = Supervisor(cwd=tmp_path)
    supervisor.start("worker", ["sh", "-c", f"echo x >> {runs}; exit 3"])
    supervisor.start("web", [sys.executable, "-c", "import time; time.sleep(60)"])
    said: list[str] = []
    with supervisor:
        reason = supervisor.wait(restart=("worker",), say=said.append)
    assert reason == "worker stopped" and len(runs.read_text().split()) == 1 + RESTARTS
    assert said[0] == f"worker exited with code 3: started again (1 of {RESTARTS})"
