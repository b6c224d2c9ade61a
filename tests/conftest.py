"""Shared fixtures. Chain fixtures live in their own plugin modules."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from hypothesis import settings as hypothesis_settings

from recovery.celery import app as celery_app

pytest_plugins = ["tests.fixtures_anvil", "tests.fixtures_bitcoin", "tests.payout_env"]

# CI is reproducible (a fixed example sequence); local runs explore new examples every time.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# Tasks enqueued by the code under test go to an in-memory broker nobody consumes: a test calls the
# service a task would call, or starts real workers and sends through the real broker explicitly.
# (Eager mode would run self-rescheduling money tasks in a loop inside the test process.)
celery_app.conf.task_always_eager = False
celery_app.conf.broker_url = "memory://"
celery_app.conf.broker_transport_options = {}


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
