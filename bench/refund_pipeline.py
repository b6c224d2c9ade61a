"""Benchmark: detection latency and refund throughput of the real pipeline (beat, workers, RabbitMQ, PG).

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/recovery .venv/bin/python bench/refund_pipeline.py
     [--deposits 20] [--refunds 20] [--block-time 1]
anvil mines a block every --block-time seconds; the anvil network needs 2 blocks on top.
1. Detection latency: --deposits wrong deposits, one per block; for each, the time from the moment its
   block has the confirmation depth (observed by polling the node) to its auto case being opened.
2. Refund throughput: --refunds queued auto-return refunds, (a) all handed to the workers at once (each
   refund's own nonce, many in flight per block; fresh addresses, so a plain top-up each), (a') the same
   to addresses that exist (dust from a past sweep), whose top-ups share disperse batches, vs (b) the same
   batch one at a time, each waiting for the previous refund's confirmation; refunds confirmed per minute
   and the gas wallet's transactions for each.
Uses a throwaway database (<name>_bench) and RabbitMQ queues it purges.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
# This process enqueues nothing by itself (the batch is handed to the workers explicitly, when timed).
os.environ["CELERY_BROKER_URL"] = "memory://"
BROKER = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CONFIRMATIONS = 2


def start(kind: str, db_url: str, log: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": db_url, "CELERY_BROKER_URL": BROKER}
    cmd = [sys.executable, "-m", "celery", "-A", "recovery", kind, "-l", "INFO", *extra]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deposits", type=int, default=20)
    parser.add_argument("--refunds", type=int, default=20)
    parser.add_argument("--block-time", type=float, default=1.0)
    args = parser.parse_args()

    import django

    django.setup()
    from celery import Celery
    from django.conf import settings
    from django.db import connection

    from chains.evm.devnet import Anvil, deploy_contract
    from chains.evm.signer import LocalHDSigner
    from recovery.models import (
        AssetPrice,
        DepositAddress,
        GasTopUpBatch,
        Network,
        RecoveryCase,
        Refund,
        RefundState,
    )

    creation = connection.creation
    bench_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    s = connection.settings_dict
    db_url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    broker = Celery("bench", broker=BROKER)
    broker.conf.broker_heartbeat = 0  # this process sleeps between sends: no heartbeats to miss
    broker.control.purge()
    processes: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    try:
        with Anvil(block_time=args.block_time) as node:
            token = deploy_contract(node, "NoReturnToken")
            disperse = deploy_contract(node, "GasDisperse")
            network = Network.objects.create(
                slug="anvil", name="Anvil", family="evm", chain_id=31337, confirmations=CONFIRMATIONS,
                native_symbol="ETH", rpc_url=node.url, scan_enabled=False,
                options={"eip1559": True, "traces": False, "scan_batch": 50, "start_block": node.head() + 1,
                         "gas_disperse": disperse.address},
            )  # fmt: skip
            AssetPrice.objects.create(
                network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
            )
            AssetPrice.objects.create(
                network=network, contract=token.address, symbol="NRT", decimals=18, usd_micros_per_unit=10**6
            )
            signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
            node.set_balance(signer.gas_wallet_address(), 10**21)
            total = args.deposits + 3 * args.refunds
            addresses = [signer.address(5000 + n) for n in range(total)]
            DepositAddress.objects.bulk_create(
                DepositAddress(family="evm", address=a, owner_ref="ACC-bench", derivation_index=5000 + n)
                for n, a in enumerate(addresses)
            )
            user = node.accounts[1]
            node.transact(token, "mint", user, total * 10 * 10**18)

            # The pipeline's processes: two workers on every queue and one beat.
            worker_args = (
                "-Q",
                "scan,verify,refunds,notify",
                "-c",
                "2",
                "--without-gossip",
                "--without-mingle",
            )
            for name in ("w1", "w2"):
                processes.append(
                    start("worker", db_url, tmp / f"{name}.log", *worker_args, "-n", f"{name}@%h")
                )
            Network.objects.filter(pk=network.pk).update(scan_enabled=True)
            processes.append(start("beat", db_url, tmp / "beat.log", "-s", str(tmp / "beat-schedule")))
            time.sleep(5)

            # 1. Detection latency (refunds of these run too, but are not measured here).
            depth_reached: dict[str, float] = {}
            txids = []
            for address in addresses[: args.deposits]:
                txids.append(node.transact(token, "transfer", address, 10 * 10**18, sender=user))
            # The moment a deposit may be acted on: the timestamp of the block that puts it at the depth
            # (anvil stamps blocks with the wall clock, to the second).
            for txid in txids:
                receipt = node.wait_receipt(txid)
                at_depth = int(receipt["blockNumber"], 16) + CONFIRMATIONS
                wait_until(lambda n=at_depth: node.head() >= n, 60)
                block = node.rpc.call("eth_getBlockByNumber", [hex(at_depth), False])
                depth_reached[txid] = int(block["timestamp"], 16)
            wait_until(lambda: RecoveryCase.objects.filter(txid__in=txids).count() == len(txids), 120)
            latencies = [
                case.created_at.timestamp() - depth_reached[case.txid]
                for case in RecoveryCase.objects.filter(txid__in=txids)
            ]
            wait_until(lambda: not Refund.objects.exclude(state=RefundState.CONFIRMED).exists(), 300)

            # 2. Throughput, driven in this process (the workers and beat are stopped first) so both modes
            #    see the same chain: the same service steps a worker runs, interleaved or one by one.
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            processes.clear()
            results = {}
            first = args.deposits
            batches = {
                "pipelined": addresses[first : first + args.refunds],
                "pipelined, swept": addresses[first + args.refunds : first + 2 * args.refunds],
                "one at a time": addresses[first + 2 * args.refunds :],
            }
            top_up_txs = {}
            for mode, batch in batches.items():
                if mode == "pipelined, swept":  # addresses that hold dust from a past sweep: batched top-ups
                    for address in batch:
                        node.set_balance(address, 10**9)
                ids = queue_refunds(node, token, user, batch)
                batches_before = GasTopUpBatch.objects.count()
                started = time.monotonic()
                if mode.startswith("pipelined"):
                    advance_all(ids)
                else:
                    for refund_id in ids:
                        advance_all([refund_id])
                results[mode] = len(ids) / (time.monotonic() - started) * 60
                top_up_txs[mode] = GasTopUpBatch.objects.count() - batches_before
        print(
            f"detection latency, {len(latencies)} deposits (block at depth -> case opened; beat every 5 s):"
        )
        print(f"  p50 {percentile(latencies, 0.5):.2f}s  p99 {percentile(latencies, 0.99):.2f}s  "
              f"max {max(latencies):.2f}s  mean {statistics.mean(latencies):.2f}s")  # fmt: skip
        for mode, per_minute in results.items():
            print(f"refund throughput, {mode:<16}: {per_minute:6.1f} refunds confirmed / minute, "
                  f"{top_up_txs[mode]} gas-wallet transactions "
                  f"(block time {args.block_time}s, {CONFIRMATIONS} blocks on top)")  # fmt: skip
        print(f"ratio pipelined / one at a time: {results['pipelined'] / results['one at a time']:.1f}x")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        broker.control.purge()
        broker.close()
        connection.close()
        creation.destroy_test_db(bench_db, verbosity=0)


def wait_until(condition, timeout: float) -> None:
    from recovery.models import Refund

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            states = list(Refund.objects.exclude(state="confirmed").values_list("pk", "state", "last_error"))
            raise TimeoutError(f"the pipeline did not finish in time; unfinished refunds: {states}")
        time.sleep(0.2)


def advance_all(ids: list[int], timeout: float = 600) -> None:
    """Advance every refund in turn until all are done: what the refunds workers do, in one process."""
    from recovery.payouts.refunds import refund_advance

    due = dict.fromkeys(ids, 0.0)
    deadline = time.monotonic() + timeout
    while due:
        if time.monotonic() > deadline:
            raise TimeoutError(f"refunds {sorted(due)} not done")
        now = time.monotonic()
        for refund_id, at in list(due.items()):
            if at <= now:
                delay = refund_advance(refund_id=refund_id)
                if delay is None:
                    del due[refund_id]
                else:
                    due[refund_id] = now + delay
        time.sleep(0.05)


def confirmed(ids: list[int]) -> int:
    from recovery.models import Refund, RefundState

    return Refund.objects.filter(pk__in=ids, state=RefundState.CONFIRMED).count()


def queue_refunds(node, token, user: str, addresses: list[str]) -> list[int]:
    """Deposit to each address, record and triage in this process (no workers involved): queued refunds."""
    from recovery.deposits.scanning import network_scan
    from recovery.deposits.triage import deposit_triage
    from recovery.models import Network, RecoveryCase, Refund
    from recovery.payouts.execution import case_execute

    network = Network.objects.get(slug="anvil")
    txids = [node.transact(token, "transfer", a, 10 * 10**18, sender=user) for a in addresses]
    target = node.rpc.call("eth_getTransactionReceipt", [txids[-1]])
    wait_until(lambda: node.head() - int(target["blockNumber"], 16) >= CONFIRMATIONS, 60)
    report = network_scan(network_id=network.pk)
    for deposit_id in report.new_deposit_ids:
        deposit_triage(deposit_id=deposit_id)
        for case_id in RecoveryCase.objects.filter(deposit_id=deposit_id).values_list("pk", flat=True):
            case_execute(case_id=case_id)  # what a worker does on the approval's commit
    return list(Refund.objects.filter(deposit__txid__in=txids).values_list("pk", flat=True))


if __name__ == "__main__":
    main()
