"""The refund battery, small: about 50 refunds under reorgs, fee spikes, send faults and SIGKILLs.

It runs `bench/refund_battery.py` as it is (`make bench` runs the full size, 1,000 refunds over 200
addresses): the real worker processes and beat over RabbitMQ, its own PostgreSQL database beside the
test database, anvil. It passes only on the script's own verdict, counted on the chain.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.processes import BROKER_URL, REPO, database_url_for_tests, require_service

pytestmark = [pytest.mark.anvil, pytest.mark.services, pytest.mark.django_db]
SMALL = ["--refunds", "50", "--addresses", "10", "--spread", "20", "--chaos-after", "20", "--settle", "300"]
SMALL += ["--workers", "2", "--failpoint-rate", "0.06", "--seed", os.environ.get("BATTERY_SEED", "3")]


@pytest.mark.timeout(600)
def test_fifty_refunds_under_chaos_are_each_paid_once_with_no_gap_and_nothing_stuck():
    require_service(BROKER_URL)
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "TEST_BROKER_URL": BROKER_URL}
    run = subprocess.run(
        [sys.executable, "bench/refund_battery.py", *SMALL],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=580,
    )  # fmt: skip
    summary = [line for line in run.stdout.splitlines() if line.startswith("battery: ")]
    print(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert summary and summary[-1].startswith("battery: OK | "), run.stdout[-2000:]
    assert (
        " 0 stuck)" in summary[-1]
        and "nonce gaps 0 |" in summary[-1]
        and "double payments 0 |" in summary[-1]
    )
