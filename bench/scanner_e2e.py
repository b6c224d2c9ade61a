"""Benchmark: the Django scanner end to end (fetch, decode, match, record in PostgreSQL) vs the raw ceiling.

Run: DATABASE_URL=postgres://postgres@127.0.0.1:5432/recovery .venv/bin/python bench/scanner_e2e.py
     [--logs 12000] [--watched 1000000] [--hit-every 10] [--runs 3]
Uses a throwaway database (<name>_bench). With 1,000,000 watched deposit addresses in the table and
--logs Transfer logs on anvil, every --hit-every-th to a watched address, it prints logs/s for
(a) the ceiling: raw eth_getLogs + hand decoding, no matching or writing, and
(b) recovery.deposits.scanning.network_scan: the same range fetched, decoded, matched against the
    in-memory watched set, confirmed against the table, recorded (deposits, block hashes, cursor),
and the ratio (b)/(a), the watched set's load time and the peak RSS.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
PER_TX = 2500


def load_addresses(addresses: list[str]) -> None:
    """COPY the watched addresses into the table (bulk_create of a million rows takes minutes)."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(
            "COPY recovery_depositaddress (family, address, memo, owner_ref, derivation_index, created_at)"
            " FROM STDIN"
        ) as copy,
    ):
        for n, address in enumerate(addresses):
            copy.write_row(("evm", address, "", f"ACC-{n // 3}", n, now))
    with connection.cursor() as cursor:  # a live table has statistics (autovacuum); a fresh COPY does not
        cursor.execute("ANALYZE recovery_depositaddress")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logs", type=int, default=12_000)
    parser.add_argument("--watched", type=int, default=1_000_000)
    parser.add_argument("--hit-every", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the scanner's cProfile top 25")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from chains.evm.abi import TRANSFER_TOPICS, decode_transfer_log, to_checksum
    from chains.evm.devnet import Anvil, deploy_contract
    from recovery.deposits.scanning import network_scan
    from recovery.deposits.watched import forget_watched, watched_addresses
    from recovery.models import Deposit, Network, ScanCursor, ScannedBlock
    from recovery.onchain.registry import forget_chains

    if connection.vendor != "postgresql":
        raise SystemExit("run with DATABASE_URL pointing at PostgreSQL")
    bench_db = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    rng = random.Random(42)
    try:
        watched_list = [to_checksum(rng.randbytes(20).hex()) for _ in range(args.watched)]
        started = time.perf_counter()
        load_addresses(watched_list)
        print(f"loaded {args.watched:,} deposit addresses with COPY in {time.perf_counter() - started:.1f}s")
        recipients = [
            watched_list[rng.randrange(args.watched)]
            if i % args.hit_every == 0
            else "0x" + rng.randbytes(20).hex()
            for i in range(args.logs)
        ]
        hits = sum(1 for i in range(args.logs) if i % args.hit_every == 0)
        del watched_list

        with Anvil(gas_limit=60_000_000) as node:
            spray = deploy_contract(node, "Spray")
            first = node.head() + 1
            for i in range(0, len(recipients), PER_TX):
                node.transact(spray, "spray", recipients[i : i + PER_TX], 1000, gas=25_000_000)
            last = node.head()
            network = Network.objects.create(
                slug="anvil",
                name="Anvil",
                family="evm",
                chain_id=31337,
                confirmations=0,
                native_symbol="ETH",
                rpc_url=node.url,
                options={
                    "eip1559": True,
                    "traces": False,
                    "scan_batch": last - first + 1,
                    "start_block": first,
                },
            )
            log_filter = {"fromBlock": hex(first), "toBlock": hex(last), "topics": [list(TRANSFER_TOPICS)]}

            def ceiling() -> None:
                for log in node.rpc.call("eth_getLogs", [log_filter]):
                    decode_transfer_log(log["topics"], log["data"])

            forget_chains()
            forget_watched()
            started = time.perf_counter()
            watched = watched_addresses("evm")
            load_s = time.perf_counter() - started

            def scanner() -> None:
                report = network_scan(network_id=network.pk)
                assert report.recorded == hits and report.last == last, report

            def reset() -> None:
                Deposit.objects.all().delete()
                ScanCursor.objects.all().delete()
                ScannedBlock.objects.all().delete()

            best = {"ceiling": float("inf"), "scanner": float("inf")}
            for _ in range(args.runs):
                for name, work in (("ceiling", ceiling), ("scanner", scanner)):
                    reset()
                    start = time.perf_counter()
                    work()
                    best[name] = min(best[name], time.perf_counter() - start)
            if args.profile:
                import cProfile
                import pstats

                reset()
                profiler = cProfile.Profile()
                profiler.runcall(scanner)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"logs: {args.logs:,} in blocks {first}..{last}; watched: {len(watched):,}; recorded: {hits}")
        print(
            f"watched set loaded from the table in {load_s:.1f}s ({watched.memory_bytes() / 2**20:.0f} MiB)"
        )
        print(f"(a) ceiling  : {args.logs / best['ceiling']:9,.0f} logs/s (eth_getLogs + hand decoding)")
        print(
            f"(b) scanner  : {args.logs / best['scanner']:9,.0f} logs/s (fetch, decode, match, record in PG)"
        )
        print(
            f"ratio (b)/(a): {best['ceiling'] / best['scanner']:.0%} (target >= 50%), peak RSS {peak:.0f} MiB"
        )
    finally:
        connection.creation.destroy_test_db(bench_db, verbosity=0)


if __name__ == "__main__":
    main()
