"""Reconciliation: what left our EVM wallets on-chain, checked against the refunds and top-ups we recorded.

Every transaction an account sends takes its next nonce, so the account's transaction count N says how
many transactions ever left it. Each nonce 0..N-1 must be one of our recorded transactions, mined; any
other transaction left the account without us (the key used elsewhere, a second payment). The counts are read
before the records: a transaction is stored before it is sent, so whatever was counted is on record by the
time the records are read, and a refund in flight never looks like an outflow nobody recorded.
"""

from __future__ import annotations

import enum
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db.models import Q, Sum

from chains.base import ChainError
from chains.evm.rpc import JsonRpc, RpcError
from recovery.models import (
    Family,
    GasTopUpBatch,
    Network,
    NonceCounter,
    Refund,
    RefundAttempt,
    RefundState,
)
from recovery.onchain.registry import chain_for
from recovery.onchain.signers import evm_signer

log = logging.getLogger(__name__)

RPC_BATCH = 100  # requests per JSON-RPC batch
TXID_LOOKUPS = 50  # at most this many unrecorded nonces per run are looked up by sender and nonce
NOT_SIGNED = (RefundState.QUEUED, RefundState.CANCELLED)
NOT_IMPLEMENTED = "reconciliation is not implemented for {family} networks: nothing was checked"


class Kind(enum.StrEnum):
    UNRECORDED_OUTFLOW = "unrecorded_outflow"  # a nonce used on-chain that no record of ours explains
    DOUBLE_PAYMENT = "double_payment"  # one deposit paid back more than once
    REFUND_MISMATCH = "refund_mismatch"  # a refund's record disagrees with the chain
    BATCH_MISMATCH = "gas_batch_mismatch"  # a gas top-up batch's record disagrees with the chain


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: Kind
    account: str
    nonce: int | None
    detail: str
    txid: str = ""  # the on-chain transaction, when known
    refund_id: int | None = None
    batch_id: int | None = None

    def __str__(self) -> str:
        where = f"account {self.account}" + ("" if self.nonce is None else f" nonce {self.nonce}")
        ids = "".join(
            f" {name} {value}"
            for name, value in (("txid", self.txid), ("refund", self.refund_id), ("batch", self.batch_id))
            if value
        )
        return f"{self.kind} {where}{ids}: {self.detail}"


@dataclass
class ReconcileReport:
    """One network's reconciliation. Amounts are integers in base units (wei for the native coin)."""

    network: str
    family: str
    checked: bool = True  # False: nothing was compared (see `note`)
    note: str = ""
    accounts: int = 0  # sending accounts whose nonces were accounted for
    transactions: int = 0  # nonces used on-chain by those accounts
    refunds_checked: int = 0
    refunds_paid_once: int = 0  # refunds with exactly one successful transaction on-chain
    gas_batches_checked: int = 0
    # The gas wallet: total + fee_paid of batches recorded as mined (fee only when reverted), and the
    # same figure from the chain (value + gas fee of our batch transactions that are mined).
    gas_wallet_outflow_recorded: int = 0
    gas_wallet_outflow_on_chain: int = 0
    # Gas the mined refund transactions burnt, from their receipts (a refund row does not record it).
    refund_gas_fees_on_chain: int = 0
    # Confirmed refunds per asset ("native" or the token contract): amount sent and recovery fee withheld.
    refunds_paid_recorded: dict[str, int] = field(default_factory=dict)
    refund_fees_recorded: dict[str, int] = field(default_factory=dict)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    seconds: float = 0.0

    def _count(self, *kinds: Kind) -> int:
        return sum(1 for d in self.discrepancies if d.kind in kinds)

    @property
    def unrecorded_outflows(self) -> int:
        return self._count(Kind.UNRECORDED_OUTFLOW)

    @property
    def double_payments(self) -> int:
        return self._count(Kind.DOUBLE_PAYMENT)

    @property
    def mismatches(self) -> int:
        return self._count(Kind.REFUND_MISMATCH, Kind.BATCH_MISMATCH)

    @property
    def clean(self) -> bool:
        """Checked, and nothing disagrees: an unchecked network is never called clean."""
        return self.checked and not self.discrepancies

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["discrepancies"] = [str(d) for d in self.discrepancies]
        data.update(
            clean=self.clean,
            unrecorded_outflows=self.unrecorded_outflows,
            double_payments=self.double_payments,
            mismatches=self.mismatches,
        )
        return data


@dataclass(frozen=True, slots=True)
class Mined:
    """A transaction as the chain has it: in a block, successful or reverted."""

    txid: str
    sender: str  # lowercase
    nonce: int
    value: int
    success: bool
    block_number: int
    block_hash: str
    fee: int


# --- entry points ------------------------------------------------------------------------------------


def networks_to_reconcile(slug: str | None = None) -> list[Network]:
    """The named network, else every network that is scanned or has refunds or gas top-up batches."""
    if slug is not None:
        return [Network.objects.get(slug=slug)]
    paid_from = Q(pk__in=Refund.objects.values("network")) | Q(pk__in=GasTopUpBatch.objects.values("network"))
    return list(Network.objects.filter(Q(scan_enabled=True) | paid_from).order_by("slug"))


def networks_reconcile(networks: Iterable[Network]) -> list[ReconcileReport]:
    """Each network's report; a node that cannot answer gives an unchecked report instead of an error."""
    reports = []
    for network in networks:
        try:
            reports.append(reconcile_network(network))
        except ChainError as error:
            log.exception("reconciliation of %s could not read the chain", network.slug)
            note = f"could not read the chain: {type(error).__name__}: {error}"
            reports.append(ReconcileReport(network.slug, network.family, checked=False, note=note))
    return reports


def reconcile_network(network: Network) -> ReconcileReport:
    """Compare what left the network's sending accounts on-chain with the refunds and batches on record."""
    if network.family != Family.EVM:
        note = NOT_IMPLEMENTED.format(family=network.get_family_display())
        return ReconcileReport(network.slug, network.family, checked=False, note=note)
    started = time.monotonic()
    rpc = chain_for(network).rpc
    report = ReconcileReport(network.slug, network.family)
    # Counts first, records second (see the module docstring). An account whose first refund is signed
    # in between is not counted in this run: the next run checks it.
    accounts = {a.lower(): a for a in _sending_accounts(network)}
    counts = _transaction_counts(rpc, accounts)
    refunds = list(Refund.objects.filter(network=network).prefetch_related("attempt_rows").order_by("pk"))
    batches = list(
        GasTopUpBatch.objects.filter(network=network).annotate(top_ups_total=Sum("top_ups__amount"))
    )
    hashes = {a.tx_hash for r in refunds for a in r.attempt_rows.all()} | {r.tx_hash for r in refunds}
    hashes |= {b.tx_hash for b in batches}
    mined = _mined_transactions(rpc, sorted(h for h in hashes if h))

    covered: dict[tuple[str, int], list[str]] = defaultdict(list)
    for refund in refunds:
        report.discrepancies += _refund_check(refund, mined, counts, covered, report)
    report.discrepancies += double_payments(refunds, mined, report)
    for batch in batches:
        report.discrepancies += _batch_check(batch, mined, covered, report)
    report.discrepancies += _nonce_gaps(rpc, accounts, counts, covered)

    report.accounts = len(counts)
    report.transactions = sum(counts.values())
    report.refunds_checked = len(refunds)
    report.gas_batches_checked = len(batches)
    report.seconds = round(time.monotonic() - started, 3)
    return report


# --- reading the chain -------------------------------------------------------------------------------


def _sending_accounts(network: Network) -> set[str]:
    """Deposit addresses with a signed refund, accounts we took a nonce for, and the gas wallet."""
    signed = Refund.objects.filter(network=network).filter(Q(nonce__isnull=False) | Q(attempts__gt=0))
    accounts = set(signed.values_list("sender", flat=True))
    accounts |= set(NonceCounter.objects.filter(network=network).values_list("address", flat=True))
    accounts |= set(GasTopUpBatch.objects.filter(network=network).values_list("sender", flat=True))
    try:
        accounts.add(evm_signer().gas_wallet_address())
    except RuntimeError:  # no signer in this deployment: the batches' senders stand for the gas wallet
        log.warning("no EVM signer configured: the gas wallet is known only from its recorded batches")
    by_lower = {a.lower(): a for a in accounts if a}
    return set(by_lower.values())


def _transaction_counts(rpc: JsonRpc, accounts: Iterable[str]) -> dict[str, int]:
    """Mined transactions per account (its next nonce), keyed by the lowercase address."""
    ordered = sorted({a.lower() for a in accounts})
    calls = [("eth_getTransactionCount", [a, "latest"]) for a in ordered]
    return {a: int(n, 16) for a, n in zip(ordered, batched(rpc, calls), strict=True)}


def _mined_transactions(rpc: JsonRpc, txids: Sequence[str]) -> dict[str, Mined]:
    """The given transactions that are in a block, by lowercase txid (pending and unknown ones left out)."""
    receipts = batched(rpc, [("eth_getTransactionReceipt", [t]) for t in txids])
    found = [(t, r) for t, r in zip(txids, receipts, strict=True) if r is not None and r.get("blockNumber")]
    txs = batched(rpc, [("eth_getTransactionByHash", [t]) for t, _ in found])
    mined = {}
    for (txid, receipt), tx in zip(found, txs, strict=True):
        if tx is None:  # reorged out between the two reads: not mined
            continue
        price = receipt.get("effectiveGasPrice") or tx.get("gasPrice") or "0x0"
        mined[txid.lower()] = Mined(
            txid=txid,
            sender=receipt["from"].lower(),
            nonce=int(tx["nonce"], 16),
            value=int(tx["value"], 16),
            success=receipt.get("status") == "0x1",
            block_number=int(receipt["blockNumber"], 16),
            block_hash=receipt["blockHash"],
            fee=int(receipt["gasUsed"], 16) * int(price, 16),
        )
    return mined


def batched(rpc: JsonRpc, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
    results: list[Any] = []
    for start in range(0, len(calls), RPC_BATCH):
        results += rpc.batch(calls[start : start + RPC_BATCH])
    return results


# --- the checks ------------------------------------------------------------------------------------


def _refund_check(
    refund: Refund,
    mined: dict[str, Mined],
    counts: dict[str, int],
    covered: dict[tuple[str, int], list[str]],
    report: ReconcileReport,
) -> list[Discrepancy]:
    """The refund's state against its attempts on-chain; records which nonces its mined attempt explains."""
    found: list[Discrepancy] = []

    def mismatch(detail: str, nonce: int | None = refund.nonce, txid: str = "") -> None:
        found.append(Discrepancy(Kind.REFUND_MISMATCH, refund.sender, nonce, detail, txid, refund.pk))

    on_chain: list[tuple[RefundAttempt, Mined]] = []
    for attempt in refund.attempt_rows.all():
        tx = mined.get(attempt.tx_hash.lower())
        if tx is None:
            continue
        on_chain.append((attempt, tx))
        covered[(tx.sender, tx.nonce)].append(f"refund {refund.pk} attempt {attempt.number}")
        report.refund_gas_fees_on_chain += tx.fee
        if tx.sender != refund.sender.lower() or tx.nonce != attempt.nonce:
            mismatch(
                f"attempt {attempt.number} is recorded as nonce {attempt.nonce} of {refund.sender} but was "
                f"mined as nonce {tx.nonce} of {tx.sender}",
                txid=tx.txid,
            )
    paid = [tx for _, tx in on_chain if tx.success]
    if refund.state == RefundState.CONFIRMED:
        asset = refund.contract or "native"
        report.refunds_paid_recorded[asset] = report.refunds_paid_recorded.get(asset, 0) + refund.amount
        report.refund_fees_recorded[asset] = report.refund_fees_recorded.get(asset, 0) + refund.fee_amount
        recorded = mined.get(refund.tx_hash.lower())
        if recorded is None:
            others = ", ".join(tx.txid for _, tx in on_chain) or "none"
            mismatch(
                f"confirmed, but its transaction {refund.tx_hash or '(none)'} is not on the chain "
                f"(mined attempts: {others})"
            )
        elif not any(tx is recorded for _, tx in on_chain):
            mismatch(f"confirmed with {refund.tx_hash}, which is not one of its attempts", txid=recorded.txid)
        elif not recorded.success:
            mismatch("confirmed, but its transaction reverted", txid=recorded.txid)
        elif recorded.block_number != refund.block_number or (
            refund.block_hash and refund.block_hash.lower() != recorded.block_hash.lower()
        ):
            mismatch(
                f"recorded in block {refund.block_number} {refund.block_hash}, mined in block "
                f"{recorded.block_number} {recorded.block_hash}",
                txid=recorded.txid,
            )
        if len(on_chain) > 1:
            mismatch(f"confirmed, but {len(on_chain)} of its attempts are mined")
    elif refund.state == RefundState.FAILED:
        if paid:
            mismatch("recorded as failed, but it paid", txid=paid[0].txid)
        elif not on_chain:
            mismatch("recorded as failed, but none of its attempts is mined")
    elif refund.state in NOT_SIGNED:
        for _, tx in on_chain:
            mismatch(f"{refund.state}, never signed, but a transaction of it is mined", txid=tx.txid)
        if refund.nonce is not None and refund.nonce < counts.get(refund.sender.lower(), 0):
            mismatch(f"{refund.state}, never signed, but holds nonce {refund.nonce}, used on-chain")
    return found


def double_payments(
    refunds: Sequence[Refund], mined: dict[str, Mined], report: ReconcileReport
) -> list[Discrepancy]:
    """Deposits paid back more than once (two attempts of one refund, or two refunds); counts the refunds
    paid exactly once (one successful transaction, and the only one for its deposit)."""
    payments: dict[int, list[tuple[Refund, Mined]]] = defaultdict(list)
    for refund in refunds:
        for attempt in refund.attempt_rows.all():
            tx = mined.get(attempt.tx_hash.lower())
            if tx is not None and tx.success:
                payments[refund.deposit_id].append((refund, tx))
    found = []
    for deposit_id, paid in payments.items():
        if len(paid) == 1:
            report.refunds_paid_once += 1
        for refund, tx in paid[1:]:
            detail = f"deposit {deposit_id} paid {len(paid)} times: {', '.join(t.txid for _, t in paid)}"
            found.append(
                Discrepancy(Kind.DOUBLE_PAYMENT, refund.sender, tx.nonce, detail, tx.txid, refund.pk)
            )
    return found


def _batch_check(
    batch: GasTopUpBatch,
    mined: dict[str, Mined],
    covered: dict[tuple[str, int], list[str]],
    report: ReconcileReport,
) -> list[Discrepancy]:
    found: list[Discrepancy] = []

    def mismatch(detail: str) -> None:
        found.append(
            Discrepancy(Kind.BATCH_MISMATCH, batch.sender, batch.nonce, detail, batch.tx_hash, None, batch.pk)
        )

    tx = mined.get(batch.tx_hash.lower())
    if tx is not None:
        covered[(tx.sender, tx.nonce)].append(f"gas batch {batch.pk}")
        report.gas_wallet_outflow_on_chain += (tx.value if tx.success else 0) + tx.fee
        if (tx.sender, tx.nonce, tx.value) != (batch.sender.lower(), batch.nonce, batch.total):
            mismatch(
                f"recorded as nonce {batch.nonce} of {batch.sender} sending {batch.total}, mined as nonce "
                f"{tx.nonce} of {tx.sender} sending {tx.value}"
            )
    if batch.top_ups_total != batch.total:
        mismatch(f"its top-ups add up to {batch.top_ups_total}, the batch sends {batch.total}")
    if batch.state not in ("confirmed", "failed"):
        return found  # in flight: the top-up follower settles it
    succeeded = batch.state == "confirmed"
    report.gas_wallet_outflow_recorded += (batch.total if succeeded else 0) + (batch.fee_paid or 0)
    if tx is None:
        mismatch(f"recorded as {batch.state}, but its transaction is not on the chain")
    elif tx.success != succeeded:
        mismatch(f"recorded as {batch.state}, but it {'succeeded' if tx.success else 'reverted'} on-chain")
    elif batch.fee_paid != tx.fee:
        mismatch(f"recorded fee {batch.fee_paid}, the receipt says {tx.fee}")
    return found


def _nonce_gaps(
    rpc: JsonRpc,
    accounts: dict[str, str],
    counts: dict[str, int],
    covered: dict[tuple[str, int], list[str]],
) -> list[Discrepancy]:
    """Every nonce an account used must be explained by exactly one mined record of ours."""
    found = []
    lookups = TXID_LOOKUPS
    for address, count in sorted(counts.items()):
        shown = accounts.get(address, address)
        for nonce in range(count):
            records = covered.get((address, nonce), [])
            if len(records) == 1:
                continue
            if records:  # a chain mines one transaction per nonce: the records themselves disagree
                detail = f"{len(records)} records claim this nonce: {', '.join(records)}"
                found.append(Discrepancy(Kind.UNRECORDED_OUTFLOW, shown, nonce, detail))
                continue
            txid = ""
            if lookups > 0:
                lookups -= 1
                txid = _txid_by_sender_and_nonce(rpc, shown, nonce)
                if txid is None:  # the node has no such index: stop asking
                    lookups, txid = 0, ""
            detail = "a transaction left this account that no refund or gas top-up of ours records"
            found.append(Discrepancy(Kind.UNRECORDED_OUTFLOW, shown, nonce, detail, txid))
    return found


def _txid_by_sender_and_nonce(rpc: JsonRpc, account: str, nonce: int) -> str | None:
    """The transaction at (account, nonce) where the node indexes it (Otterscan API: anvil, Erigon, Reth);
    "" when it does not know it, None when the node has no such method."""
    try:
        return rpc.call("ots_getTransactionBySenderAndNonce", [account, hex(nonce)]) or ""
    except RpcError:
        return None
