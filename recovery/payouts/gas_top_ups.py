"""Gas top-ups, batched: native coin from the gas wallet to deposit addresses that must pay a refund's gas.

A refund that lacks gas files a top-up (pending). Where the network has a disperse contract
(`options["gas_disperse"]`) and the address already exists (EIP-161: it holds coin or has sent), the
top-up is batchable: batchable top-ups wait up to GAS_TOP_UP_BATCH_WINDOW_SECONDS for company (or until
GAS_TOP_UP_BATCH_MAX are waiting); then one worker takes them all under row locks (skip locked, so two
workers never take the same one) and signs ONE `disperseEther` transaction. An empty address gets a plain
transfer at once: a contract call creating an account costs 25,000 gas more than the 21,000 of a plain
transfer, which creates it for free, so batching it would cost more, not less.

The signed bytes, the gas wallet's nonce and the top-ups' link to the batch commit together before anything
is sent; afterwards every refund waiting on the batch sends the same stored bytes until they are mined.
A batch funds all of its addresses or none of them.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min
from django.utils import timezone

from chains.base import BroadcastOutcome, ChainError, SignedTx, TxStatus
from chains.evm.chain import EvmChain
from chains.evm.refund import (
    NATIVE_TRANSFER_GAS,
    Call,
    RefundWouldRevert,
    current_fees,
    estimate_refund_gas,
    gas_top_up,
    gas_top_up_batch,
    unsigned_tx,
)
from chains.evm.signer import GAS_WALLET, Fees
from recovery.models import GasTopUp, GasTopUpBatch, GasTopUpBatchState, GasTopUpState, Network, Refund
from recovery.onchain.registry import chain_for
from recovery.onchain.signers import evm_signer
from recovery.payouts.failpoints import failpoint
from recovery.payouts.nonces import nonce_take
from recovery.payouts.signing import gas_top_up_sign

log = logging.getLogger(__name__)


class TopUpBlocked(Exception):
    """The top-up cannot go out now; `human` says whether a person must look or time will settle it."""

    def __init__(self, reason: str, *, human: bool) -> None:
        super().__init__(reason)
        self.human = human


def top_up_request(refund: Refund, network: Network, chain: EvmChain, need: int, balance: int) -> GasTopUp:
    """The refund's open top-up: its latest if pending or batched, the latest reopened if cancelled, else
    a new one (none yet, or the earlier ones were spent and the address still lacks gas)."""
    batchable = disperse_contract(network) is not None and _account_exists(chain, refund.sender, balance)
    fields = {"network": network, "recipient": refund.sender, "amount": need, "batchable": batchable}
    top_up = refund_top_up(refund)
    if top_up is None or top_up.state in (GasTopUpState.CONFIRMED, GasTopUpState.FAILED):
        return GasTopUp.objects.create(refund=refund, **fields)
    if top_up.state == GasTopUpState.CANCELLED:
        GasTopUp.objects.filter(pk=top_up.pk, state=GasTopUpState.CANCELLED).update(
            state=GasTopUpState.PENDING, amount=need, batchable=batchable, created_at=timezone.now()
        )
        top_up.refresh_from_db()
    return top_up


def refund_top_up(refund: Refund) -> GasTopUp | None:
    """The refund's latest top-up (earlier ones are history: spent, failed or cancelled)."""
    return GasTopUp.objects.select_related("batch").filter(refund=refund).order_by("-pk").first()


def batches_unsettled_follow() -> int:
    """The sweeper's part: batches signed or sent but unsettled for a while are followed to their end, in
    nonce order, whether or not a refund still follows them (one whose refund settled first, or whose
    refund was funded again by a later top-up)."""
    cutoff = timezone.now() - timedelta(seconds=settings.REFUND_STUCK_AFTER_SECONDS)
    open_states = [GasTopUpBatchState.SIGNED, GasTopUpBatchState.BROADCAST]
    batches = GasTopUpBatch.objects.filter(state__in=open_states, created_at__lt=cutoff)
    followed = list(batches.select_related("network").order_by("nonce")[:200])
    for batch in followed:
        try:
            batch_follow(batch, chain_for(batch.network))
        except (TopUpBlocked, ChainError) as error:
            log.warning("gas top-up batch %s: %s", batch.tx_hash, error, extra={"batch_id": batch.pk})
    return len(followed)


def top_up_unneeded(top_up: GasTopUp, chain: EvmChain) -> None:
    """The address can pay now: a pending top-up is cancelled, a batched one is followed to its end."""
    if top_up.state == GasTopUpState.PENDING:
        GasTopUp.objects.filter(pk=top_up.pk, state=GasTopUpState.PENDING).update(
            state=GasTopUpState.CANCELLED
        )
    elif top_up.state == GasTopUpState.BATCHED:
        try:
            batch_follow(top_up.batch, chain)
        except TopUpBlocked as blocked:  # this refund no longer depends on it; the others will say so
            log.warning("%s", blocked, extra={"refund_id": top_up.refund_id})


def disperse_contract(network: Network) -> str | None:
    return (network.options or {}).get("gas_disperse") or None


def _account_exists(chain: EvmChain, address: str, balance: int) -> bool:
    """Not empty (EIP-161): it holds coin or has sent a transaction (deposit addresses hold no code)."""
    return balance > 0 or chain.nonce(address) > 0


def batch_due(top_up: GasTopUp) -> bool:
    """Sign now: a plain transfer (nothing to wait for), a full batch waiting, or the oldest waited enough."""
    if not top_up.batchable:
        return True
    waiting = GasTopUp.objects.filter(network=top_up.network_id, state=GasTopUpState.PENDING, batchable=True)
    waiting = waiting.aggregate(count=Count("pk"), oldest=Min("created_at"))
    if waiting["count"] >= settings.GAS_TOP_UP_BATCH_MAX:
        return True
    window = timedelta(seconds=settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS)
    return waiting["oldest"] is not None and waiting["oldest"] <= timezone.now() - window


def batches_sign(network: Network, chain: EvmChain, *, batchable: bool = True) -> list[GasTopUpBatch]:
    """Take the network's pending top-ups of one kind (up to the batch limit) and sign them: the batchable
    ones as one disperse transaction, the others as a plain transfer each."""
    disperse = disperse_contract(network) if batchable else None
    if disperse is not None and not chain.is_contract(disperse):
        # Calldata sent to an address without code is ignored and the coin stays there: refuse.
        raise TopUpBlocked(f"the configured disperse contract {disperse} has no code", human=True)
    fees = current_fees(chain.rpc, eip1559=bool((network.options or {}).get("eip1559", True)))
    with transaction.atomic():
        pending = list(
            GasTopUp.objects.select_for_update(skip_locked=True)
            .filter(network=network, state=GasTopUpState.PENDING, batchable=batchable)
            .order_by("pk")[: settings.GAS_TOP_UP_BATCH_MAX]
        )
        if disperse is not None and len(pending) > 1:
            batches = _disperse_or_singles(pending, network, chain, fees)
        else:
            batches = [_batch_sign([top_up], network, chain, fees) for top_up in pending]
    for batch in batches:
        failpoint("after_top_up_commit", batch.pk)
    return batches


def _disperse_or_singles(
    group: list[GasTopUp], network: Network, chain: EvmChain, fees: Fees
) -> list[GasTopUpBatch]:
    """One disperse batch; if the node says it would revert, a plain transfer each (one bad address then
    fails alone instead of holding every other refund back)."""
    call = gas_top_up_batch(disperse_contract(network), [(t.recipient, t.amount) for t in group])
    gas_wallet = evm_signer().gas_wallet_address()
    wallet_needs = call.value + NATIVE_TRANSFER_GAS * len(group) * fees.per_gas_cap
    if chain.balance(gas_wallet) < wallet_needs:
        raise TopUpBlocked(f"the gas wallet {gas_wallet} cannot cover {len(group)} top-ups", human=False)
    try:
        gas = estimate_refund_gas(chain.rpc, gas_wallet, call)
    except RefundWouldRevert as exc:
        log.error("the disperse batch would revert (%s): one transfer per address instead", exc)
        return [_batch_sign([top_up], network, chain, fees) for top_up in group]
    return [_batch_sign(group, network, chain, fees, call=call, gas=gas)]


def _batch_sign(
    group: list[GasTopUp],
    network: Network,
    chain: EvmChain,
    fees: Fees,
    *,
    call: Call | None = None,
    gas: int = NATIVE_TRANSFER_GAS,
) -> GasTopUpBatch:
    """Sign one gas-wallet transaction for `group` (a plain transfer unless `call` is given) and store it;
    in the caller's transaction."""
    signer = evm_signer()
    gas_wallet = signer.gas_wallet_address()
    if call is None:
        (top_up,) = group
        call = gas_top_up(top_up.recipient, top_up.amount)
    nonce = nonce_take(
        network=network,
        address=gas_wallet,
        chain_nonce=lambda: chain.nonce(gas_wallet),
    )
    unsigned = unsigned_tx(call, key=GAS_WALLET, nonce=nonce, gas=gas, fees=fees, chain_id=network.chain_id)
    signed = gas_top_up_sign(network, unsigned)
    batch = GasTopUpBatch.objects.create(
        network=network,
        sender=gas_wallet,
        nonce=nonce,
        total=call.value,
        recipients=len(group),
        raw_tx=signed.raw.hex(),
        tx_hash=signed.txid,
    )
    GasTopUp.objects.filter(pk__in=[top_up.pk for top_up in group]).update(
        batch=batch, state=GasTopUpState.BATCHED
    )
    log.info("gas top-up batch %s signed: %s addresses, nonce %s", signed.txid, len(group), nonce)
    return batch


def batch_follow(batch: GasTopUpBatch, chain: EvmChain) -> None:
    """Send the batch's stored bytes (idempotent) until mined; settle the batch and its top-ups once it has
    the network's depth (a reorg can still take a shallower one away: then the same bytes go out again, or
    the gas wallet's later nonces would wait behind the gap). Its coin is usable as soon as it is mined."""
    receipt = chain.receipt(batch.tx_hash)
    if receipt is None:
        signed = SignedTx(raw=bytes.fromhex(batch.raw_tx), txid=batch.tx_hash, nonce=batch.nonce)
        result = chain.broadcast(signed)
        if result.outcome in (BroadcastOutcome.ACCEPTED, BroadcastOutcome.ALREADY_KNOWN):
            GasTopUpBatch.objects.filter(pk=batch.pk, state=GasTopUpBatchState.SIGNED).update(
                state=GasTopUpBatchState.BROADCAST
            )
        return
    if receipt.status == TxStatus.PENDING or receipt.confirmations <= batch.network.confirmations:
        return
    if receipt.status == TxStatus.SUCCESS:
        _batch_settle(batch, GasTopUpBatchState.CONFIRMED, GasTopUpState.CONFIRMED, receipt.fee_paid)
    elif receipt.status == TxStatus.FAILED:
        _batch_settle(batch, GasTopUpBatchState.FAILED, GasTopUpState.FAILED, receipt.fee_paid)
        raise TopUpBlocked(f"the gas top-up batch {batch.tx_hash} failed on-chain", human=True)


@transaction.atomic
def _batch_settle(batch: GasTopUpBatch, state: str, top_up_state: str, fee_paid: int | None) -> None:
    now = timezone.now()
    sent = [GasTopUpBatchState.SIGNED, GasTopUpBatchState.BROADCAST]
    GasTopUpBatch.objects.filter(pk=batch.pk, state__in=sent).update(
        state=state, fee_paid=fee_paid, confirmed_at=now
    )
    GasTopUp.objects.filter(batch=batch, state=GasTopUpState.BATCHED).update(
        state=top_up_state, confirmed_at=now
    )
