"""Shared fixtures. Chain fixtures live in their own plugin modules."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from recovery.celery import app as celery_app

pytest_plugins = ["tests.fixtures_anvil", "tests.fixtures_bitcoin"]

# CI is reproducible (a fixed example sequence); local runs explore new examples every time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# The test process runs tasks in-process; tests of real workers send through a real broker explicitly.
celery_app.conf.task_always_eager = True
celery_app.conf.task_eager_propagates = True


def pytest_configure(config: pytest.Config) -> None:
    # Password hashing strength is not under test; PBKDF2's cost would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    engine = settings.DATABASES["default"]["ENGINE"]
    if os.environ.get("CI") and engine != "django.db.backends.postgresql":
        raise pytest.UsageError(f"CI runs the suite on PostgreSQL (DATABASE_URL), not {engine}")


@pytest.fixture
def network(db):
    from tests.factories import make_network

    return make_network()


@pytest.fixture
def users(db):
    from tests.factories import make_staff_and_users

    return make_staff_and_users()
