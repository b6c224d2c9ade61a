"""Helpers for tests that need the real services (broker, workers): reachability and worker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.db import connection

REPO = Path(__file__).resolve().parents[1]
BROKER_URL = os.environ.get("TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def require_service(url: str) -> None:
    """Fail (under CI) or skip (on a laptop without it) when a service the test needs is not listening."""
    parsed = urlparse(url)
    try:
        socket.create_connection((parsed.hostname, parsed.port or 5672), timeout=3).close()
    except OSError as error:
        message = f"service at {parsed.hostname}:{parsed.port} is not reachable: {error}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def database_url_for_tests() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class WorkerProcess:
    def __init__(self, process: subprocess.Popen, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tasks_succeeded(self) -> int:
        return self.log.count(" succeeded in ")


@contextmanager
def celery_worker(
    *,
    queues: str,
    log_path: Path,
    concurrency: int = 1,
    env: dict[str, str] | None = None,
    new_group: bool = False,
    name: str = "worker",
) -> Iterator[WorkerProcess]:
    """A real `celery worker` process on the test database and the real broker, logging to a file."""
    worker_env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **(env or {}),
    }
    command = [sys.executable, "-m", "celery", "-A", "recovery", "worker", "-Q", queues]
    command += [
        "-c",
        str(concurrency),
        "-n",
        f"{name}@%h",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=worker_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=new_group,
        )
    try:
        yield WorkerProcess(process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def celery_beat(
    *, log_path: Path, schedule_path: Path, env: dict[str, str] | None = None
) -> Iterator[WorkerProcess]:
    """A real `celery beat` on the test database and the real broker."""
    beat_env = {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "CELERY_BROKER_URL": BROKER_URL,
        **(env or {}),
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "recovery",
        "beat",
        "-l",
        "INFO",
        "-s",
        str(schedule_path),
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, env=beat_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield WorkerProcess(process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(condition: Callable[[], bool], *, timeout: float = 60, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()
