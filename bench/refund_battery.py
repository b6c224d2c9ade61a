"""The refund battery: the money path at scale, under chaos, counted on the chain.

The real processes: worker process groups on every queue and one beat (Celery over RabbitMQ), a throwaway
PostgreSQL database, anvil mining a block a second. The workers reach the node through a fault proxy.
Workload (bench/battery/workload.py): deposit addresses with 1-10 wrong deposits each, of every kind
(ERC-20, USDT-style, fee-on-transfer, pre-standard unindexed, ERC-721, ERC-1155 single and batch, native,
blacklisted and false-returning tokens, 2**250-unit amounts, spam, dust), until the planned refunds reach
--refunds; they arrive spread over --spread seconds. Chaos, from the first deposit until --chaos-after
seconds after the last: reorgs of 1-6 blocks (the network waits 6 blocks on top), fee spikes of 3x and
10x, faults on the workers' sends (timeouts, "already known", "nonce too low", 502, before or after the
node got the bytes), worker groups SIGKILLed at random and pool children killed at every failpoint. Then
the chaos stops, the workers restart without failpoints, and the system finishes on its own (its beat
sweepers on a 30 s clock instead of 2-5 minutes).

It ends with one summary line, and exits 1 if any of these fails: every deposit on the final chain
recorded exactly once and triaged without error; payments counted on the chain equal to the refunds
confirmed, none paid twice, every returnable deposit returned; no refund stuck (each confirmed, or in
needs_review / failed with a reason); every nonce counter equal to its account's nonce on the chain;
reconciliation clean.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recovery .venv/bin/python bench/refund_battery.py
        [--refunds 1000] [--addresses 200] [--spread 180] [--chaos-after 30] [--settle 900] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
os.environ["CELERY_BROKER_URL"] = "memory://"  # this process enqueues nothing: it acts as users and chains
BROKER = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
QUEUES = "scan,verify,refunds,notify"
SWEEPERS = {"REFUND_STUCK_AFTER_SECONDS": "30", "APPROVED_STUCK_AFTER_SECONDS": "30"}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--refunds", type=int, default=1000, help="refunds the workload plans at least")
    parser.add_argument("--addresses", type=int, default=200, help="deposit addresses (1-10 deposits each)")
    parser.add_argument("--spread", type=float, default=180, help="seconds over which the deposits arrive")
    parser.add_argument("--chaos-after", type=float, default=30, help="seconds of chaos after the last one")
    parser.add_argument("--settle", type=float, default=900, help="deadline for the system to finish")
    parser.add_argument("--workers", type=int, default=3, help="worker process groups (2 children each)")
    parser.add_argument("--failpoint-rate", type=float, default=0.02, help="per failpoint and pass")
    parser.add_argument("--fault-rate", type=float, default=0.08, help="share of sends given a fault")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--drop-always", action="store_true", help="drop the database even on failure")
    return parser.parse_args()


def database_create() -> tuple[str, str, str]:
    """A throwaway database beside DATABASE_URL's: (admin URL, its URL, its name)."""
    import psycopg

    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recovery"))
    name = f"recovery_battery_{uuid.uuid4().hex[:8]}"
    admin = base._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin, base._replace(path=f"/{name}").geturl(), name


def database_drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settled() -> bool:
    """Nothing left for the system to do: every block scanned, every deposit decided, every refund done."""
    from recovery.models import Deposit, RecoveryCase, Refund, ScanCursor

    head = settled.head  # type: ignore[attr-defined]
    cursor = ScanCursor.objects.values_list("last_block", flat=True).first() or 0
    return (
        cursor >= head
        and not Deposit.objects.filter(status="confirmed", disposition="").exists()
        and not RecoveryCase.objects.filter(state="approved").exists()
        and not Refund.objects.filter(state__in=("queued", "signed", "broadcast")).exists()
    )


def run(args: argparse.Namespace, db_url: str, logs: Path) -> int:
    from bench.battery.chaos import Chaos, ChaosClock, failpoints_spec
    from bench.battery.depositor import Depositor
    from bench.battery.tally import verdict_build
    from bench.battery.workload import workload_plan
    from bench.battery.world import CONFIRMATIONS, deposit_addresses, world_create
    from bench.pipeline import Pipeline
    from chains.evm.devnet import Anvil
    from recovery.models import Network, Refund
    from tests.chains.evm.faulty_proxy import FaultyProxy

    started = time.monotonic()
    with Anvil(block_time=1, accounts=40) as node, FaultyProxy(node.url) as proxy:
        rng = random.Random(args.seed)
        addresses = deposit_addresses(args.addresses)
        workload = workload_plan(rng, refunds=args.refunds, addresses=addresses, senders=node.accounts[1:])
        world = world_create(node, proxy.url, workload)
        pipeline = Pipeline(
            db_url=db_url, broker=BROKER, queues=QUEUES, logs=logs, workers=args.workers, concurrency=2,
            failpoints=failpoints_spec(args.failpoint_rate), env=SWEEPERS,
        )  # fmt: skip
        Network.objects.filter(pk=world.network.pk).update(scan_enabled=True)
        pipeline.start()
        chaos = Chaos(node, proxy, pipeline, ChaosClock(fault_rate=args.fault_rate), args.seed)
        depositor = Depositor(world, args.spread, deep=CONFIRMATIONS + 1)
        try:
            planned = f"{len(workload.deposits)} deposits planned on {len(workload.addresses)} addresses"
            setup = f"{workload.refunds_expected} refunds; setup {time.monotonic() - started:.0f}s"
            print(f"battery: {planned}, {setup}", flush=True)
            chaos.start()
            depositor.thread.start()
            depositor.thread.join()
            time.sleep(args.chaos_after)
            chaos.stop()
            pipeline.calm()
            settled.head = node.head() + CONFIRMATIONS  # type: ignore[attr-defined]
            calm_at = time.monotonic()
            while time.monotonic() - calm_at < args.settle and not settled():
                pipeline.revive()
                time.sleep(2)
            settle_seconds = time.monotonic() - calm_at
        finally:
            chaos.stop()
            depositor.thread.join()
            pipeline.stop()
        verdict = verdict_build(world)
        deaths = pipeline.failpoint_deaths()
        last_deposit = _last_deposit_time(node, workload)
        confirmed = Refund.objects.filter(state="confirmed").order_by("-confirmed_at").first()
        tail = (confirmed.confirmed_at.timestamp() - last_deposit) if confirmed and last_deposit else -1
    figures = {
        **verdict.figures,
        "tail": tail,
        "settle": settle_seconds,
        "minutes": (time.monotonic() - started) / 60,
    }
    figures.update(resent=depositor.resent, refused=depositor.refused)
    report_print(verdict, figures, chaos, proxy, pipeline, deaths)
    return 1 if verdict.failures else 0


def report_print(verdict, f: dict, chaos, proxy, pipeline, deaths) -> None:
    states = f["states"]
    print(f"deposits by kind (on the final chain): {f['by_kind']}; sent again after a reorg lost them: "
          f"{f['resent']}; refused by the node: {f['refused']}")  # fmt: skip
    print(f"refunds by state: {states}; review reasons: {f['review_reasons']}")
    print(f"chaos: reorgs by depth {dict(sorted(chaos.reorgs.items()))}, fee spikes {dict(chaos.spikes)}, "
          f"send faults {dict(proxy.injected)}, {pipeline.kills} worker groups SIGKILLed, failpoint deaths "
          f"{dict(deaths)}, chaos errors {chaos.errors[:3]}")  # fmt: skip
    for failure in verdict.failures:
        print(f"FAILED: {failure}")
    outcome = (
        f"{f['refunds']} refunds ({states.get('confirmed', 0)} paid once on chain, "
        f"{states.get('needs_review', 0)} in review with a reason, {f['stuck']} stuck) from "
        f"{f['deposits_landed']} deposits ({f['deposit_rows']} rows) on {f['addresses']} addresses"
    )
    money = (
        f"nonce gaps {f['nonce_gaps']} | double payments {f['double_payments']} | "
        f"reconciliation {f['reconciliation']}"
    )
    chaos_done = (
        f"{sum(chaos.reorgs.values())} reorgs, {sum(chaos.spikes.values())} fee spikes, "
        f"{sum(proxy.injected.values())} send faults, {pipeline.kills} group kills, "
        f"{sum(deaths.values())} failpoint deaths"
    )
    timing = (
        f"last deposit -> last refund {f['tail']:.0f}s (settled {f['settle']:.0f}s after the chaos) | "
        f"run {f['minutes']:.1f} min"
    )
    verdict_word = "OK" if not verdict.failures else "FAILED"
    print(f"battery: {verdict_word} | {outcome} | {money} | {chaos_done} | {timing}")


def _last_deposit_time(node, workload) -> float:
    """The timestamp of the block holding the last deposit that landed."""
    numbers = []
    for p in workload.deposits:
        receipt = node.rpc.call("eth_getTransactionReceipt", [p.txid]) if p.txid else None
        if receipt is not None:
            numbers.append(int(receipt["blockNumber"], 16))
    if not numbers:
        return 0.0
    block = node.rpc.call("eth_getBlockByNumber", [hex(max(numbers)), False])
    return float(int(block["timestamp"], 16))


def main() -> int:
    args = arguments()
    from celery import Celery

    admin, db_url, name = database_create()
    os.environ["DATABASE_URL"] = db_url
    broker = Celery("battery", broker=BROKER)
    broker.control.purge()
    logs = Path(tempfile.mkdtemp(prefix="refund-battery-"))
    outcome = 1
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        outcome = run(args, db_url, logs)
        return outcome
    finally:
        from django.db import connections

        connections.close_all()
        if outcome == 0 or args.drop_always:
            database_drop(admin, name)
        else:
            print(f"database kept for a look: {db_url} (drop it when done)")
        broker.control.purge()
        broker.close()
        print(f"logs (workers, beat, failpoints): {logs}")


if __name__ == "__main__":
    sys.exit(main())
