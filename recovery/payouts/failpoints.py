"""Failpoints: named places on the money path where a test can make the process die as if SIGKILLed.

Off unless RECOVERY_FAILPOINTS is set, so production never dies here. Each entry is `name:probability`
(e.g. "after_sign:0.3") or `name:once`: die the first time each key (a refund id) reaches the point,
remembered in RECOVERY_FAILPOINT_DIR, so a crash test kills every refund at every step exactly once.
RECOVERY_FAILPOINT_LOG, if set, gets one line per death so tests can count where workers died.
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

from django.conf import settings


def parse(spec: str) -> dict[str, str]:
    points = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, mode = item.partition(":")
        points[name] = mode or "1"
    return points


def _should_die(name: str, mode: str, key: str) -> bool:
    if mode != "once":
        return random.random() < float(mode)
    folder = os.environ.get("RECOVERY_FAILPOINT_DIR")
    if not folder:
        return False
    marker = Path(folder) / f"{name}-{key}"
    try:
        marker.touch(exist_ok=False)  # atomic: only the first process to reach the point dies
    except FileExistsError:
        return False
    return True


def failpoint(name: str, key: object = "") -> None:
    points = parse(settings.RECOVERY_FAILPOINTS)
    if name not in points or not _should_die(name, points[name], str(key)):
        return
    trail = os.environ.get("RECOVERY_FAILPOINT_LOG")
    if trail:
        with open(trail, "a") as log:
            log.write(f"{name} {key} {os.getpid()}\n")
            log.flush()
            os.fsync(log.fileno())
    die()


def die() -> None:
    """SIGKILL this process: no cleanup, no rollback handlers. (The stateful model test replaces it with an
    exception that unwinds like a kill: open transactions roll back, nothing after this line runs.)"""
    os.kill(os.getpid(), signal.SIGKILL)
