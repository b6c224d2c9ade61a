"""The battery's users: they send the planned wrong deposits, spread evenly over a stretch of time,
straight to the node (not through the fault proxy). A USDC-style issuer blacklists a sender once its
deposit is mined."""

from __future__ import annotations

import threading
import time

from bench.battery.workload import Planned
from bench.battery.world import World
from chains.evm.rpc import RpcError


def deposit_send(world: World, p: Planned) -> str:
    node, c = world.node, world.contracts
    to, sender, name = p.address, p.sender, p.kind.name
    token = c[p.kind.contract] if p.kind.contract else None
    p.contract_address = token.address.lower() if token else ""
    try:
        if name == "native":
            return node.send({"from": sender, "to": to, "value": p.amounts[0]}, wait=False)
        if name == "erc721":
            return node.transact(
                token, "safeTransferFrom", sender, to, p.token_ids[0], sender=sender, wait=False
            )
        if name == "erc1155":
            args = (sender, to, p.token_ids[0], p.amounts[0], b"")
            return node.transact(token, "safeTransferFrom", *args, sender=sender, wait=False)
        if name == "erc1155_batch":
            args = (sender, to, list(p.token_ids), list(p.amounts), b"")
            return node.transact(token, "safeBatchTransferFrom", *args, sender=sender, wait=False)
        return node.transact(token, "transfer", to, p.amounts[0], sender=sender, wait=False)
    except RpcError:  # the node would not take it (the sender is blacklisted, a reorg took its coins ...)
        return ""


class Depositor:
    """Sends the plan; a deposit that a reorg (or the pool) lost is sent again, as its user would, until
    it is mined deeper than any reorg here reaches."""

    def __init__(self, world: World, spread: float, *, deep: int) -> None:
        self.world = world
        self.spread = spread
        self.deep = deep
        self.refused = 0
        self.resent = 0
        self.thread = threading.Thread(target=self.run, name="depositor")
        self.to_blacklist: list[Planned] = []
        self.unsettled: list[Planned] = []

    def run(self) -> None:
        plan = self.world.workload.deposits
        started = last_check = time.monotonic()
        for n, p in enumerate(plan):
            p.txid = deposit_send(self.world, p)
            self.refused += not p.txid
            if p.txid:
                self.unsettled.append(p)
            if p.txid and p.kind.name == "blacklisted":
                self.to_blacklist.append(p)
            if time.monotonic() - last_check > 2:
                self._blacklist_mined()
                self._resend_lost()
                last_check = time.monotonic()
            time.sleep(max(0.0, started + (n + 1) * self.spread / len(plan) - time.monotonic()))
        deadline = time.monotonic() + 120
        while (self.to_blacklist or self.unsettled) and time.monotonic() < deadline:
            self._blacklist_mined()
            self._resend_lost()
            time.sleep(1)

    def _blacklist_mined(self) -> None:
        """Blacklist the senders whose deposits are mined (had it come first, their deposit would revert)."""
        node, token = self.world.node, self.world.contracts["BlacklistToken"]
        for p in list(self.to_blacklist):
            receipt = node.rpc.call("eth_getTransactionReceipt", [p.txid])
            if receipt is not None:
                node.transact(token, "blacklist", p.sender, wait=False)
                self.to_blacklist.remove(p)

    def _resend_lost(self) -> None:
        node = self.world.node
        head = node.head()
        for p in list(self.unsettled):
            receipt = node.rpc.call("eth_getTransactionReceipt", [p.txid])
            if receipt is not None:
                if int(receipt["blockNumber"], 16) <= head - self.deep:
                    self.unsettled.remove(p)  # beyond any reorg's reach
            elif node.rpc.call("eth_getTransactionByHash", [p.txid]) is None:  # neither mined nor pooled
                p.txid = deposit_send(self.world, p)
                self.resent += 1
                if not p.txid:
                    self.unsettled.remove(p)
