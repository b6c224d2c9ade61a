"""Project-level checks: production needs a secret key, migrations match the models (the rest of production's
refusals: tests/ops/test_production_settings.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.processes import REPO


def manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", env={"DJANGO_ENV": "production", "SECRET_KEY": ""})
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_the_migrations_match_the_models():
    result = manage("makemigrations", "--check", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
