"""The embedded default (SQLite, no environment) stores and reads amounts of any size exactly."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import REPO

ROUNDTRIP = """
from recovery.models import Deposit, Network
network = Network.objects.create(slug="a", name="A", family="evm", confirmations=2, native_symbol="ETH")
for amount in (1, 2**63 + 1, 2**256 - 1):
    deposit = Deposit.objects.create(
        network=network, txid=hex(amount), index=0, recipient="0x0", standard="erc20", amount=amount,
        token_id=amount,
    )
    deposit = Deposit.objects.get(pk=deposit.pk)
    assert (deposit.amount, deposit.token_id) == (amount, amount), (deposit.amount, amount)
assert Deposit.objects.filter(amount__gt=0).count() == 3
print("exact")
"""


def test_sqlite_round_trips_uint256_amounts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env["RECOVERY_VAR_DIR"] = str(tmp_path)
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=180
    )
    migrated = run("migrate", "--verbosity", "0")
    assert migrated.returncode == 0, migrated.stderr
    result = run("shell", "-c", ROUNDTRIP)
    assert result.returncode == 0 and "exact" in result.stdout, result.stderr[-2000:]
