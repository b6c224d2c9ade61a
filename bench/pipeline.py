"""The pipeline of a chaos benchmark: worker process groups on the queues and one beat, each in its own
process group so a SIGKILL takes a worker's pool children with it."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Pipeline:
    """Worker process groups on every queue and one beat, each in its own process group."""

    def __init__(
        self,
        *,
        db_url: str,
        broker: str,
        queues: str,
        logs: Path,
        workers: int,
        concurrency: int,
        failpoints: str,
        env: dict[str, str] | None = None,
    ) -> None:
        self.logs = logs
        self.queues = queues
        self.concurrency = concurrency
        self.failpoints = failpoints
        self.trail = logs / "failpoints.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": broker,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "LOG_LEVEL": "INFO",
            "RECOVERY_FAILPOINT_LOG": str(self.trail),
            # As in the crash test: deaths are the point here, not the poison-message limit.
            "MONEY_TASK_MAX_REDELIVERIES": "1000",
            **(env or {}),
        }
        self.slots: list[subprocess.Popen | None] = [None] * workers
        self.beat: subprocess.Popen | None = None
        self.started = 0
        self.kills = 0
        self.unexpected_exits = 0
        self.lock = threading.Lock()

    def spawn(self, kind: str, log_name: str, *extra: str, failpoints: str = "") -> subprocess.Popen:
        command = [sys.executable, "-m", "celery", "-A", "recovery", kind, "-l", "INFO", *extra]
        env = {**self.env, "RECOVERY_FAILPOINTS": failpoints}
        with open(self.logs / log_name, "w") as log:
            return subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def worker_start(self, slot: int) -> None:
        self.started += 1
        self.slots[slot] = self.spawn(
            "worker",
            f"worker-{self.started}.log",
            *("-Q", self.queues, "-c", str(self.concurrency), "-n", f"w{slot}-{self.started}@%h"),
            *("--without-heartbeat", "--without-gossip", "--without-mingle"),
            failpoints=self.failpoints,
        )

    def start(self) -> None:
        self.beat = self.spawn("beat", "beat.log", "-s", str(self.logs / "beat-schedule"))
        for slot in range(len(self.slots)):
            self.worker_start(slot)

    def kill(self, slot: int) -> None:
        """SIGKILL the worker's whole process group (main process and pool children) and start a new one."""
        with self.lock:
            process = self.slots[slot]
            if process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                self.kills += 1
            self.worker_start(slot)

    def revive(self) -> None:
        """Start again any worker that exited without being killed (it should not happen)."""
        with self.lock:
            for slot, process in enumerate(self.slots):
                if process is not None and process.poll() is not None:
                    self.unexpected_exits += 1
                    self.worker_start(slot)

    def calm(self) -> None:
        """Warm-restart every worker without failpoints: no more deaths, held messages go back to Redis."""
        with self.lock:
            self.failpoints = ""
            for slot, process in enumerate(self.slots):
                if process is not None:
                    stop(process)
                self.worker_start(slot)

    def failpoint_deaths(self) -> collections.Counter:
        if not self.trail.exists():
            return collections.Counter()
        return collections.Counter(line.split()[0] for line in self.trail.read_text().splitlines())

    def stop(self) -> None:
        with self.lock:
            for process in [*self.slots, self.beat]:
                if process is not None:
                    stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (a warm shutdown), then SIGKILL the whole group if it hangs; pool children go with it."""
    if process.poll() is None:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
