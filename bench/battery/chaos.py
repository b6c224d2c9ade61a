"""The battery's chaos, each on its own clock: reorgs of 1-6 blocks, fee spikes, faults on the workers' sends
(the fault proxy between them and the node), worker groups SIGKILLed at random (and pool children killed at
the failpoints, set on the workers' environment)."""

from __future__ import annotations

import collections
import random
import threading
from dataclasses import dataclass, field

from bench.pipeline import Pipeline

FAILPOINTS = ("after_sign", "after_commit", "after_broadcast", "after_receipt", "after_top_up_commit")


def failpoints_spec(rate: float) -> str:
    return ",".join(f"{point}:{rate}" for point in FAILPOINTS)


@dataclass
class ChaosClock:
    reorg_every: tuple[float, float] = (8.0, 20.0)
    spike_every: tuple[float, float] = (20.0, 40.0)
    kill_every: tuple[float, float] = (5.0, 15.0)
    fault_rate: float = 0.08  # of the workers' sends


@dataclass
class Chaos:
    node: object
    proxy: object
    pipeline: Pipeline
    clock: ChaosClock
    seed: int
    reorgs: collections.Counter = field(default_factory=collections.Counter)  # depth -> times
    spikes: collections.Counter = field(default_factory=collections.Counter)  # factor -> times
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._halt = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.proxy.chaos(self.clock.fault_rate, seed=self.seed)
        for name, step, every in (
            ("reorg", self._reorg, self.clock.reorg_every),
            ("spike", self._spike, self.clock.spike_every),
            ("kill", self._kill, self.clock.kill_every),
        ):
            rng = random.Random(f"{self.seed}-{name}")
            thread = threading.Thread(target=self._loop, args=(step, every, rng), name=f"chaos-{name}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._halt.set()
        for thread in self._threads:
            thread.join()
        self.proxy.chaos(0)

    def _loop(self, step, every: tuple[float, float], rng: random.Random) -> None:
        while not self._halt.wait(rng.uniform(*every)):
            try:
                step(rng)
            except Exception as error:  # a chaos step that fails is reported, not fatal
                self.errors.append(f"{step.__name__}: {error}")

    def _reorg(self, rng: random.Random) -> None:
        """Replace the last 1-6 blocks with empty ones, and empty the pool: anvil would keep transactions
        whose nonces now have gaps, and every later one from the same sender behind them. What the dropped
        blocks and the pool held is gone unless its sender sends it again (the system must)."""
        depth = rng.randint(1, 6)
        self.node.reorg(depth)
        self.node.drop_pending()
        self.reorgs[depth] += 1

    def _spike(self, rng: random.Random) -> None:
        """The next block's base fee at 3x or 10x today's gas price; it eases 1/8 a block after that."""
        factor = rng.choice((3, 10))
        gas_price = int(self.node.rpc.call("eth_gasPrice"), 16)
        self.node.rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(max(gas_price, 10**9) * factor)])
        self.spikes[factor] += 1

    def _kill(self, rng: random.Random) -> None:
        self.pipeline.kill(rng.randrange(len(self.pipeline.slots)))
        self.pipeline.revive()
