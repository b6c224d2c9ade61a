"""Benchmark: the user API's case list and case page with 100,000 cases in PostgreSQL, against a real server.

Creates a throwaway database (dropped at the end), bulk-creates the cases, starts `manage.py runserver` on
127.0.0.1, and sends a bounded number of requests from a small threaded client. Prints p50/p99 latency of
the list and detail endpoints and the queries per request (which must not grow with the page size).

    python bench/user_api.py [--cases 100000] [--requests 400] [--threads 4]
    BENCH_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres (the server that hosts the throwaway db)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from case_data import HEAVY_USER_CASES, heavy_user_cases  # noqa: E402 (beside this script)

ADMIN_URL = os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def populate(total: int) -> tuple[str, list[str]]:
    """Bulk-create the data; returns the heavy user's API token and a sample of their case references."""
    import django

    django.setup()
    from rest_framework.authtoken.models import Token

    from recovery.audit.events import event_record
    from recovery.audit.roles import Actor
    from recovery.models import CaseMessage, Network, RecoveryCase

    network = Network.objects.create(
        slug="bench", name="Bench", family="evm", confirmations=2, native_symbol="ETH"
    )
    heavy = heavy_user_cases(network, total, other_users=1_000, destination="0x" + "4" * 40)
    sample = list(RecoveryCase.objects.filter(user=heavy).order_by("?")[:20])
    for case in sample:
        for kind in ("filed", "start_verification", "verified"):
            event_record(case=case, kind=kind, actor=Actor.case_owner(heavy))
        CaseMessage.objects.bulk_create(
            [CaseMessage(case=case, author=heavy, body=f"m{i}") for i in range(10)]
        )
    return Token.objects.create(user=heavy).key, [str(c.reference) for c in sample]


def query_counts(references: list[str]) -> dict[str, int]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(username="heavy"))
    counts = {}
    for label, url in (
        ("list, 10 a page", "/api/cases/?page_size=10"),
        ("list, 100 a page", "/api/cases/?page_size=100"),
        ("detail", f"/api/cases/{references[0]}/"),
    ):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url, HTTP_HOST="127.0.0.1").status_code == 200
        counts[label] = len(ctx.captured_queries)
    return counts


def load(base: str, token: str, paths: list[str], threads: int) -> tuple[list[float], int]:
    session_headers = {"Authorization": f"Token {token}"}

    def one(path: str) -> tuple[float, int]:
        started = time.perf_counter()
        response = requests.get(base + path, headers=session_headers, timeout=30)
        return (time.perf_counter() - started) * 1000, response.status_code

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, paths))
    return [ms for ms, _ in results], sum(1 for _, status in results if status != 200)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait_listening(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400, help="per endpoint")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    name = f"recovery_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    db_url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "DJANGO_DEBUG": "0",
        "DB_CONN_MAX_AGE": "60",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
    server = None
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
        started = time.perf_counter()
        token, references = populate(args.cases)
        print(f"created {args.cases:,} cases in {time.perf_counter() - started:.1f} s")
        counts = query_counts(references)
        port = free_port()
        command = [
            sys.executable,
            "manage.py",
            "runserver",
            f"127.0.0.1:{port}",
            "--noreload",
            "--skip-checks",
        ]
        server = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(port, server)
        base = f"http://127.0.0.1:{port}"
        load(base, token, ["/api/cases/"] * 10, args.threads)  # warm up
        pages = HEAVY_USER_CASES // 25
        list_paths = [f"/api/cases/?page={1 + n % pages}" for n in range(args.requests)]
        detail_paths = [f"/api/cases/{references[n % len(references)]}/" for n in range(args.requests)]
        for label, paths in (
            ("GET /api/cases/ (list, 25 a page)", list_paths),
            ("GET /api/cases/<ref>/ (detail)", detail_paths),
        ):
            latencies, errors = load(base, token, paths, args.threads)
            p50, p99, mean = percentile(latencies, 50), percentile(latencies, 99), statistics.fmean(latencies)
            print(
                f"{label}: {len(paths)} requests, {args.threads} threads: "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {mean:.1f} ms, errors {errors}"
            )
        print("queries per request: " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
