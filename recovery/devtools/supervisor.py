"""Child processes of the local commands (run_local, demo): start, watch, stop them all on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from types import FrameType

from django.conf import settings

QUEUES = "scan,verify,refunds,notify"
# A worker or beat that dies (kombu's filesystem transport can read a message file before it is written:
# celery/kombu#1551) is started again this many times before the whole local system stops.
RESTARTS = 5


def local_service_commands(*, addr: str, beat_schedule: Path) -> dict[str, list[str]]:
    """The web server, one worker on every queue and the one beat, as run by the embedded default."""
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "recovery"]
    return {
        "web": [python, "manage.py", "runserver", "--noreload", addr],
        "worker": [*celery, "worker", "-Q", QUEUES, "-c", "2", "-l", "INFO"],
        "beat": [*celery, "beat", "-l", "INFO", "-s", str(beat_schedule)],
    }


def interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Supervisor:
    """Each child runs in its own process group, so stopping one also stops what it forked (pool workers)
    and a Ctrl-C reaches the children only through us, in a known order."""

    def __init__(
        self, *, cwd: Path, env: Mapping[str, str] | None = None, stop_timeout: float = 15.0
    ) -> None:
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.stop_timeout = stop_timeout
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.specs: dict[str, tuple[list[str], Path | None]] = {}
        self.restarts: dict[str, int] = {}

    def start(self, name: str, argv: Sequence[str], *, log: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a child; its output goes to `log` (appended) if given, else to our terminal."""
        output = None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = log.open("ab")
        try:
            process = subprocess.Popen(
                list(argv),
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                start_new_session=True,
            )
        finally:
            if output is not None:
                output.close()  # the child holds its own copy of the descriptor
        self.children[name] = process
        self.specs[name] = (list(argv), log)
        return process

    def restart_stopped(self, names: Collection[str], *, limit: int, say: Callable[[str], None]) -> bool:
        """Start again each stopped child named in `names`, up to `limit` times each; False when one that
        stopped may not (or may no more) be restarted."""
        for name in self.stopped():
            if name not in names or self.restarts.get(name, 0) >= limit:
                return False
            code = self.children[name].returncode
            self.restarts[name] = self.restarts.get(name, 0) + 1
            argv, log = self.specs[name]
            where = f", see {log}" if log else ""
            say(f"{name} exited with code {code}{where}: started again ({self.restarts[name]} of {limit})")
            self.start(name, argv, log=log)
        return True

    def stopped(self) -> list[str]:
        return [name for name, process in self.children.items() if process.poll() is not None]

    def wait(
        self,
        *,
        alive: Callable[[], bool] = lambda: True,
        tick: Callable[[], None] | None = None,
        restart: Collection[str] = (),
        say: Callable[[str], None] = print,
    ) -> str:
        """Block until Ctrl-C / SIGTERM or until a child (or `alive()`) stops; returns why. Children named
        in `restart` (a worker, beat) are started again when they exit, up to RESTARTS times each."""
        # SIGINT too: a shell starts background jobs with SIGINT ignored, and Python keeps that.
        previous = {signum: signal.signal(signum, interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            while alive() and (not self.stopped() or self.restart_stopped(restart, limit=RESTARTS, say=say)):
                if tick is not None:
                    tick()
                time.sleep(0.5)
            dead = self.stopped() or ["a watched process"]
            return f"{', '.join(dead)} stopped"
        except KeyboardInterrupt:
            return "interrupted"
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def stop(self) -> None:
        """SIGTERM to every child (a worker's warm shutdown stops its own pool), then SIGKILL to whatever
        of its process group outlives the timeout."""
        for process in self.children.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for process in self.children.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for process in self.children.values():
            # The group too: a worker's pool children can outlive their parent.
            self._signal_group(process, signal.SIGKILL)
            if process.poll() is None:
                process.wait(timeout=5)

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def broker_description() -> str:
    return "embedded filesystem broker (local use only)" if settings.CELERY_EMBEDDED_BROKER else "broker"
