"""Benchmark: import N deposit addresses (default 1,000,000) from CSV into the configured database, twice.

Run with DATABASE_URL pointing at PostgreSQL: `DATABASE_URL=postgres://... python bench/address_import.py`.
The second run measures the idempotent re-import. Uses a throwaway database (`<name>_bench`).
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")


def write_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["family", "address", "owner_ref", "derivation_index", "memo"])
        for n in range(rows):
            writer.writerow(["evm", "0x" + secrets.token_hex(20), f"ACC-{n // 3}", n, ""])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from recovery.deposits.address_import import deposit_addresses_import
    from recovery.models import DepositAddress

    creation = connection.creation
    bench_db = creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "addresses.csv"
            started = time.perf_counter()
            write_csv(path, args.rows)
            print(f"generated {args.rows:,} rows in {time.perf_counter() - started:.1f}s")
            for label in ("first import", "re-import (idempotent)"):
                started = time.perf_counter()
                with open(path, newline="") as stream:
                    report = deposit_addresses_import(stream=stream)
                elapsed = time.perf_counter() - started
                rejected = len(report.rejected)
                counts = f"{report.inserted:,} new, {report.already_present:,} present, {rejected} rejected"
                print(f"{label}: {elapsed:.1f}s, {args.rows / elapsed:,.0f} rows/s ({counts})")
            print(f"rows in table: {DepositAddress.objects.count():,} on {connection.vendor} ({bench_db})")
    finally:
        creation.destroy_test_db(bench_db, verbosity=0)


if __name__ == "__main__":
    main()
