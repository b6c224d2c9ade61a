"""The battery's verdict, counted on the chain first and then held against the database.

A payment is a successful transaction from a deposit address whose calldata sends an asset (a token
transfer, an NFT safeTransferFrom, or plain coin) and whose receipt shows the token contract acting (a
log from it): a token whose transfer returns false moves nothing and is not counted. Payments and the
deposits still on the final chain are compared by key (address, asset, counterparty, token id, amount).
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field

from bench.battery.world import World

FEE_BPS = 100
ERC20_TRANSFER = "a9059cbb"
ERC721_SAFE = ("42842e0e", "b88d4fde")
ERC1155_SAFE = "f242432a"
OPEN = ("queued", "signed", "broadcast")


def _word(data: str, n: int) -> str:
    return data[8 + 64 * n : 8 + 64 * (n + 1)]


def _address(word: str) -> str:
    return "0x" + word[-40:]


def payment_key(tx: dict, receipt: dict) -> tuple | None:
    """(from, asset, recipient, token id, amount) of a successful payment from a deposit address."""
    sender, to, data = tx["from"].lower(), (tx.get("to") or "").lower(), tx["input"][2:]
    if not data:
        value = int(tx["value"], 16)
        return (sender, "", to, None, None) if value else None
    if not any(log["address"].lower() == to for log in receipt["logs"]):
        return None  # the call succeeded without the token doing anything: nothing was paid
    selector = data[:8]
    if selector == ERC20_TRANSFER:
        return sender, to, _address(_word(data, 0)), None, int(_word(data, 1), 16)
    if selector in ERC721_SAFE:
        return sender, to, _address(_word(data, 1)), int(_word(data, 2), 16), 1
    if selector == ERC1155_SAFE:
        return sender, to, _address(_word(data, 1)), int(_word(data, 2), 16), int(_word(data, 3), 16)
    return None


def payments_on_chain(rpc, first: int, last: int, addresses: set[str]) -> collections.Counter:
    paid: collections.Counter = collections.Counter()
    for start in range(first, last + 1, 50):
        numbers = range(start, min(start + 50, last + 1))
        blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in numbers])
        ours = [tx for b in blocks for tx in b["transactions"] if tx["from"].lower() in addresses]
        receipts = rpc.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in ours])
        for tx, receipt in zip(ours, receipts, strict=True):
            if int(receipt["status"], 16) == 1 and (key := payment_key(tx, receipt)) is not None:
                paid[key] += 1
    return paid


def deposit_keys(planned) -> list[tuple]:
    """The key a return of this deposit carries: the sender gets back what the address received."""
    address, contract, sender = planned.address.lower(), planned.contract_address, planned.sender.lower()
    name = planned.kind.name
    if name == "native":
        return [(address, "", sender, None, None)]
    if name.startswith("erc1155") or name == "erc721":
        return [
            (address, contract, sender, i, a) for i, a in zip(planned.token_ids, planned.amounts, strict=True)
        ]
    (amount,) = planned.amounts
    if name == "fee_on_transfer":
        amount -= amount * FEE_BPS // 10_000
    return [(address, contract, sender, None, amount)]


def refund_key(refund) -> tuple:
    if refund.standard == "native":
        return (refund.sender.lower(), "", refund.destination.lower(), None, None)
    token_id = None if refund.token_id is None else int(refund.token_id)
    return (
        refund.sender.lower(),
        refund.contract.lower(),
        refund.destination.lower(),
        token_id,
        int(refund.amount),
    )


@dataclass
class Verdict:
    figures: dict = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def require(self, ok: bool, failure: str) -> None:
        if not ok:
            self.failures.append(failure)


def verdict_build(world: World) -> Verdict:
    from recovery.models import Deposit, NonceCounter, Refund, UnreadTransferLog
    from recovery.payouts.reconcile import reconcile_network

    node, v = world.node, Verdict()
    sent = [p for p in world.workload.deposits if p.txid]
    receipts = node.rpc.batch([("eth_getTransactionReceipt", [p.txid]) for p in sent])
    landed = [p for p, r in zip(sent, receipts, strict=True) if r is not None and int(r["status"], 16) == 1]
    expected_rows = collections.Counter({p.txid: max(1, len(p.token_ids)) for p in landed})
    recorded = collections.Counter(Deposit.objects.values_list("txid", flat=True))
    v.require(recorded == expected_rows, _diff("deposits recorded", expected_rows, recorded))
    parked = Deposit.objects.exclude(triage_error="").count()
    undecided = Deposit.objects.filter(status="confirmed", disposition="").count()
    v.require(parked == 0 and undecided == 0, f"triage: {parked} parked with an error, {undecided} undecided")
    unread = UnreadTransferLog.objects.count()
    v.require(unread == 0, f"{unread} logs the scanner could not read")

    addresses = {a.lower() for a in world.workload.addresses}
    paid = payments_on_chain(node.rpc, world.start_block, node.head(), addresses)
    owed = collections.Counter(k for p in landed if p.kind.outcome != "none" for k in deposit_keys(p))
    refunds = list(Refund.objects.all())
    confirmed = collections.Counter(refund_key(r) for r in refunds if r.state == "confirmed")
    twice = [k for k, n in paid.items() if n > owed.get(k, 0)]
    v.require(not twice, f"paid more often than deposited (or never deposited): {twice[:5]}")
    v.require(paid == confirmed, _diff("payments on chain vs refunds confirmed", confirmed, paid))
    unpaid = [p for p in landed if p.kind.outcome == "paid" and any(paid[k] == 0 for k in deposit_keys(p))]
    v.require(not unpaid, f"{len(unpaid)} returnable deposits not returned: {_why(unpaid[:5])}")

    states = collections.Counter(r.state for r in refunds)
    stuck = [r.pk for r in refunds if r.state in OPEN]
    silent = [r.pk for r in refunds if r.state in ("needs_review", "failed") and not r.last_error]
    v.require(not stuck, f"{len(stuck)} refunds stuck in a working state: {stuck[:10]}")
    v.require(not silent, f"{len(silent)} refunds in review without a reason: {silent[:10]}")
    for refund in (r for r in refunds if r.state == "failed"):
        v.failures.append(f"refund {refund.pk} reverted on chain: {_revert_detail(node, refund)}")
    reasons = collections.Counter(
        re.sub(r"0x[0-9a-fA-F]+|\d+", "#", r.last_error)[:70] for r in refunds if r.state == "needs_review"
    )

    gaps = []
    for counter in NonceCounter.objects.all():
        on_chain = int(node.rpc.call("eth_getTransactionCount", [counter.address, "latest"]), 16)
        if counter.next_nonce != on_chain:
            gaps.append((counter.address, counter.next_nonce, on_chain))
    v.require(not gaps, f"nonce counters not equal to the chain's (address, counter, chain): {gaps[:5]}")
    report = reconcile_network(world.network)
    v.require(report.clean, f"reconciliation: {[str(d) for d in report.discrepancies[:5]]} {report.note}")

    v.figures.update(
        deposits_sent=len(sent), deposits_landed=len(landed), deposit_rows=sum(recorded.values()),
        addresses=len(addresses), refunds=len(refunds), states=dict(states), review_reasons=dict(reasons),
        paid_on_chain=sum(paid.values()), nonce_gaps=len(gaps), stuck=len(stuck),
        reconciliation="clean" if report.clean else "DISCREPANCIES", double_payments=report.double_payments,
        by_kind=dict(collections.Counter(p.kind.name for p in landed)),
    )  # fmt: skip
    return v


def _revert_detail(node, refund) -> str:
    """Why a mined refund reverted, from the node's call trace (gas, error, reason)."""
    try:
        trace = node.rpc.call("debug_traceTransaction", [refund.tx_hash, {"tracer": "callTracer"}])
    except Exception as error:
        return f"{refund.tx_hash}: no trace ({error})"
    gas, used = int(trace.get("gas", "0x0"), 16), int(trace.get("gasUsed", "0x0"), 16)
    return (
        f"{refund.tx_hash} {refund.standard} amount {refund.amount} attempts {refund.attempts}: "
        f"{trace.get('error')} {trace.get('revertReason', '')} (gas {used} of {gas})"
    )


def _diff(what: str, expected: collections.Counter, actual: collections.Counter) -> str:
    missing = list((expected - actual).items())[:5]
    extra = list((actual - expected).items())[:5]
    return f"{what} differ: missing {missing}, extra {extra}"


def _why(planned) -> list[str]:
    from recovery.models import Deposit

    out = []
    for p in planned:
        d = Deposit.objects.filter(txid=p.txid).first()
        refund = d.refunds.first() if d else None
        state = f"refund {refund.state} {refund.last_error[:80]}" if refund else "no refund"
        out.append(f"{p.kind.name} {p.txid[:10]}: {d.disposition if d else 'unrecorded'} "
                   f"({d.disposition_reason if d else ''}); {state}")  # fmt: skip
    return out
