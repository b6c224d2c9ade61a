"""Refund execution: the only code path that pays. A refund advances one step per call, crash-safe.

queued --(guards, gas top-up, nonce, sign, store bytes: one locked transaction)--> signed
signed --(send the stored bytes; an unclear answer is checked on the chain)--> broadcast
broadcast --(receipt at the confirmation depth; success judged by what the destination received)--> confirmed
Anything unclear that time will not settle goes to needs_review for a human. Bytes are never re-signed
while they can still be mined; a fee bump is a same-nonce replacement, stored before it is sent.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from types import ModuleType

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from chains.base import BroadcastOutcome, SignedTx, TxStatus
from chains.evm.refund import RefundWouldRevert
from recovery.accounts.destinations import COOLING_OFF, destination_usable
from recovery.audit.roles import Actor
from recovery.cases.workflow import approvals_complete, transition
from recovery.celery import send_on_commit
from recovery.models import (
    DepositStatus,
    Family,
    Origin,
    RecoveryCase,
    Refund,
    RefundState,
    ScreenedAddress,
    ScreeningKind,
    State,
    refund_move,
)
from recovery.onchain.pricing import price_source
from recovery.onchain.registry import chain_for
from recovery.payouts import bitcoin, evm
from recovery.payouts.failpoints import failpoint
from recovery.payouts.signing import RefundBlocked

log = logging.getLogger(__name__)
ADVANCE_TASK = "recovery.tasks.refund_advance"
SYSTEM = Actor.system("refund executor")
WAIT_TOP_UP = 2.0
WAIT_RECEIPT = 2.0
WAIT_UNCLEAR = 5.0
WAIT_ORDER = 1.0


@transaction.atomic
def refund_queue(*, case_id: int) -> Refund:
    """Approved on-chain return -> refund_queued, with its Refund row; execution starts on commit."""
    case = transition(case_id, State.REFUND_QUEUED, actor=SYSTEM)
    deposit = case.deposit
    refund = Refund.objects.create(
        case=case,
        deposit=deposit,
        network=case.network,
        destination=case.refund_destination,
        standard=deposit.standard,
        contract=deposit.contract,
        token_id=deposit.token_id,
        amount=case.refund_amount,
        fee_amount=case.fee_amount,
        sender=deposit.recipient,
        key_index=deposit.deposit_address.derivation_index if deposit.deposit_address else None,
        value_usd_cents=price_source().usd_cents(case.network, deposit.contract, case.refund_amount) or 0,
    )
    _enqueue_advance(refund.pk)
    return refund


def _payout_for(network) -> ModuleType:
    """The family's payout module: refund_plan, funding_ready, refund_sign_locked, received_amount."""
    return {Family.EVM: evm, Family.BITCOIN: bitcoin}[network.family]


def _stored_bytes(refund: Refund) -> SignedTx:
    """The signed transaction exactly as stored before it was first sent."""
    return SignedTx(
        raw=bytes.fromhex(refund.raw_tx), txid=refund.tx_hash, nonce=refund.nonce, sender=refund.sender
    )


def _enqueue_advance(refund_id: int, countdown: float | None = None) -> None:
    send_on_commit(ADVANCE_TASK, refund_id, countdown=countdown)


def refund_advance(*, refund_id: int, redelivered: bool = False) -> float | None:
    """Take the refund one step further. Returns the seconds until the next step, None when it is done."""
    Refund.objects.filter(pk=refund_id).update(updated_at=timezone.now())  # alive: the sweeper leaves it be
    refund = Refund.objects.select_related("network", "case", "deposit").get(pk=refund_id)
    if redelivered and _crash_count_exceeded(refund):
        return None
    step = {
        RefundState.QUEUED: _step_sign,
        RefundState.SIGNED: _step_send,
        RefundState.BROADCAST: _step_track,
    }.get(RefundState(refund.state))
    if step is None:
        return None
    try:
        return step(refund)
    except RefundWouldRevert as revert:
        _refund_needs_review(refund, f"the token refuses the transfer (estimate reverts): {revert}")
        return None
    except RefundBlocked as blocked:
        if blocked.human:
            _refund_needs_review(refund, str(blocked))
            return None
        Refund.objects.filter(pk=refund.pk).update(last_error=str(blocked))
        return WAIT_UNCLEAR * 6


def _crash_count_exceeded(refund: Refund) -> bool:
    """Count a redelivery (the last worker died holding the message); too many go to a human."""
    Refund.objects.filter(pk=refund.pk).update(deliveries=F("deliveries") + 1)
    refund.refresh_from_db(fields=["deliveries", "state"])
    if refund.deliveries > settings.MONEY_TASK_MAX_REDELIVERIES and refund.state in (
        RefundState.QUEUED,
        RefundState.SIGNED,
        RefundState.BROADCAST,
    ):
        _refund_needs_review(refund, f"the refund task died {refund.deliveries} times")
        return True
    return False


# --- queued -> signed ------------------------------------------------------------------------------


def signing_guards(refund: Refund) -> None:
    """Checked again at signing, whatever happened since approval."""
    case = RecoveryCase.objects.select_related("deposit", "network").get(pk=refund.case_id)
    if case.state != State.REFUND_QUEUED:
        raise RefundBlocked(f"the case is {case.state}, not refund_queued", human=True)
    if not approvals_complete(case):
        raise RefundBlocked("the approvals are not complete for the current terms", human=True)
    if (case.refund_destination, case.refund_amount) != (refund.destination, refund.amount):
        raise RefundBlocked("the refund no longer matches the approved destination and amount", human=True)
    refund.deposit.refresh_from_db(fields=["status"])
    if refund.deposit.status == DepositStatus.PENDING:  # re-mined after a reorg: wait for the depth again
        raise RefundBlocked("the deposit is waiting for its confirmations again", human=False)
    if refund.deposit.status != DepositStatus.CONFIRMED:
        raise RefundBlocked(
            f"the deposit is {refund.deposit.status}: never refund an orphaned deposit", human=True
        )
    if refund.key_index is None:
        raise RefundBlocked("the deposit address has no derivation index: its key is unknown", human=True)
    usable, reason = _auto_destination_usable(case) if _returns_to_sender(case) else destination_usable(case)
    if not usable:
        # Only a cooling-off settles with time; anything else (an unconfirmed destination, a screening
        # hit since approval, a whitelist rule) needs a person.
        raise RefundBlocked(reason, human=not reason.startswith(COOLING_OFF))


def _returns_to_sender(case: RecoveryCase) -> bool:
    """An auto-return to the deposit's own sender: the policy chose it, no user confirmed it."""
    return case.origin == Origin.AUTO and case.refund_destination == case.deposit.sender


def _auto_destination_usable(case: RecoveryCase) -> tuple[bool, str]:
    sanctioned = ScreenedAddress.objects.filter(
        family=case.network.family, address__iexact=case.refund_destination, kind=ScreeningKind.SANCTIONED
    )
    return (False, "the sender is on the sanctions / deny list") if sanctioned.exists() else (True, "ok")


def _step_sign(refund: Refund) -> float | None:
    signing_guards(refund)
    chain = chain_for(refund.network)
    payout = _payout_for(refund.network)
    plan = payout.refund_plan(refund, chain, refund.network)
    if not payout.funding_ready(refund, chain, refund.network, plan):
        return WAIT_TOP_UP
    with transaction.atomic():
        locked = Refund.objects.select_for_update(skip_locked=True).filter(
            pk=refund.pk, state=RefundState.QUEUED
        )
        claimed = locked.select_related("network", "deposit").first()
        if claimed is None:
            return 0.5  # another worker holds it or moved it on: look again shortly
        signing_guards(claimed)
        payout.refund_sign_locked(claimed, chain, claimed.network, plan)
    failpoint("after_commit", refund.pk)
    return 0


# --- signed -> broadcast ---------------------------------------------------------------------------


def _step_send(refund: Refund) -> float | None:
    if _earlier_nonce_unsent(refund):
        return WAIT_ORDER  # a later nonce sent first would wait in the pool, or be refused as too high
    chain = chain_for(refund.network)
    if _deposit_gone_since_signing(refund, chain):
        return 0
    result = chain.broadcast(_stored_bytes(refund))
    failpoint("after_broadcast", refund.pk)
    if result.outcome in (BroadcastOutcome.ACCEPTED, BroadcastOutcome.ALREADY_KNOWN):
        _refund_mark_broadcast(refund)
        return WAIT_RECEIPT
    if result.outcome == BroadcastOutcome.UNFUNDED and refund.network.family == Family.EVM:
        # Not final: the bytes stay as signed; the address is funded and the same bytes go out again.
        Refund.objects.filter(pk=refund.pk).update(last_error=f"waiting for funds: {result.detail}"[:2000])
        return WAIT_UNCLEAR if evm.signed_funding_ready(refund, chain, refund.network) else WAIT_TOP_UP
    if result.outcome == BroadcastOutcome.UNDERPRICED and refund.network.family == Family.EVM:
        # Not final either: fees rose since signing. The same nonce is signed at today's fees (a new attempt),
        # funded if it costs more, and sent; abandoning the bytes would leave their nonce as a gap.
        _refund_reprice(refund, chain, result.detail)
        return 0
    if result.outcome in (BroadcastOutcome.REJECTED, BroadcastOutcome.UNFUNDED, BroadcastOutcome.UNDERPRICED):
        _refund_needs_review(refund, f"the node refused the signed refund: {result.detail}")
        return None
    if chain.receipt(refund.tx_hash) is not None:  # mined or in the pool after all
        _refund_mark_broadcast(refund)
        return WAIT_RECEIPT
    Refund.objects.filter(pk=refund.pk).update(unclear_sends=F("unclear_sends") + 1, last_error=result.detail)
    if refund.unclear_sends + 1 >= settings.REFUND_MAX_UNCLEAR_SENDS:
        _refund_needs_review(
            refund, f"broadcast stayed unclear {refund.unclear_sends + 1} times: {result.detail}"
        )
        return None
    return WAIT_UNCLEAR  # the same bytes go out again: they can be mined once at most


def _deposit_gone_since_signing(refund: Refund, chain) -> bool:
    """A reorg took the deposit away after its refund was signed: its bytes must never go out. On EVM the
    nonce they hold is spent on a no-op instead (a nonce left unused would hold back every later refund
    from the address); the no-op settles the refund in needs_review. Bitcoin bytes are just not sent."""
    refund.deposit.refresh_from_db(fields=["status"])
    if refund.deposit.status == DepositStatus.PENDING:
        raise RefundBlocked("the deposit is waiting for its confirmations again", human=False)
    if refund.deposit.status == DepositStatus.CONFIRMED:
        return False
    if refund.network.family != Family.EVM:
        _refund_needs_review(refund, f"the deposit was {refund.deposit.status} after signing: not sent")
        return True
    if evm.is_cancel(refund.attempt_rows.order_by("-number").first()):
        return False  # its no-op is signed: send that
    with transaction.atomic():
        locked = Refund.objects.select_for_update(skip_locked=True).filter(
            pk=refund.pk, state=RefundState.SIGNED, attempts=refund.attempts
        )
        claimed = locked.select_related("network").first()
        if claimed is not None:
            evm.refund_cancel_locked(claimed, chain, claimed.network)
            reason = f"the deposit was {refund.deposit.status} after signing: its nonce goes to a no-op"
            Refund.objects.filter(pk=claimed.pk).update(last_error=reason)
    return True


def _refund_reprice(refund: Refund, chain, detail: str) -> None:
    """Sign the signed-but-refused refund again at the same nonce with today's fees, as a new attempt."""
    with transaction.atomic():
        locked = Refund.objects.select_for_update(skip_locked=True).filter(
            pk=refund.pk, state=RefundState.SIGNED, attempts=refund.attempts
        )
        claimed = locked.select_related("network").first()
        if claimed is None:
            return  # another worker re-signed or sent it meanwhile
        evm.refund_bump_locked(claimed, chain, claimed.network)
        Refund.objects.filter(pk=claimed.pk).update(last_error=f"re-signed at today's fees: {detail}"[:2000])


def _earlier_nonce_unsent(refund: Refund) -> bool:
    """Another refund from the same address holds a lower nonce and has not been sent yet."""
    if refund.nonce is None:  # Bitcoin: no account nonces
        return False
    earlier = Refund.objects.filter(
        network_id=refund.network_id, sender=refund.sender, state=RefundState.SIGNED, nonce__lt=refund.nonce
    )
    return earlier.exists()


@transaction.atomic
def _refund_mark_broadcast(refund: Refund) -> None:
    if refund_move(refund.pk, to=RefundState.BROADCAST, broadcast_at=timezone.now(), last_error=""):
        transition(refund.case_id, State.REFUND_BROADCAST, actor=SYSTEM, data={"tx_hash": refund.tx_hash})


# --- broadcast -> confirmed / failed ---------------------------------------------------------------


def _step_track(refund: Refund) -> float | None:
    chain = chain_for(refund.network)
    if refund.network.family == Family.EVM:
        evm.open_top_up_settle(refund, chain)  # a top-up filed after a refusal for funds
    receipts = [(a, chain.receipt(a.tx_hash)) for a in refund.attempt_rows.order_by("-number")]
    mined = [(a, r) for a, r in receipts if r is not None and r.status in (TxStatus.SUCCESS, TxStatus.FAILED)]
    if mined:
        attempt, receipt = mined[0]
        if receipt.confirmations <= refund.network.confirmations:
            return WAIT_RECEIPT  # settled at the deposits' depth: that many blocks on top of its own
        failpoint("after_receipt", refund.pk)
        _refund_settle(refund, attempt.tx_hash, receipt, chain)
        return None
    if any(r is not None for _, r in receipts):  # pending in the pool
        if refund.network.family == Family.EVM and evm.bump_due(refund):
            _refund_bump(refund, chain)
        return WAIT_RECEIPT
    # No node knows any attempt (dropped from the pool): send the latest stored bytes again.
    chain.broadcast(_stored_bytes(refund))
    return WAIT_UNCLEAR


def _refund_bump(refund: Refund, chain) -> None:
    with transaction.atomic():
        locked = Refund.objects.select_for_update(skip_locked=True).filter(
            pk=refund.pk, state=RefundState.BROADCAST, attempts=refund.attempts
        )
        claimed = locked.select_related("network").first()
        if claimed is None:
            return
        evm.refund_bump_locked(claimed, chain, claimed.network)  # the new attempt is signed and stored
        refund_move(claimed.pk, to=RefundState.BROADCAST)
    chain.broadcast(_stored_bytes(Refund.objects.get(pk=refund.pk)))


@transaction.atomic
def _refund_settle(refund: Refund, tx_hash: str, receipt, chain) -> None:
    """Record the mined attempt's outcome once (compare-and-swap on the state), and move the case."""
    refund.tx_hash = tx_hash
    if receipt.status == TxStatus.FAILED:
        failed = {"tx_hash": tx_hash, "block_number": receipt.block_number, "last_error": "reverted"}
        if refund_move(refund.pk, to=RefundState.FAILED, **failed):
            transition(refund.case_id, State.REFUND_FAILED, actor=SYSTEM, data={"tx_hash": tx_hash})
        return
    received = _payout_for(refund.network).received_amount(chain, refund)
    if received == 0:  # mined and successful, yet nothing reached the destination
        reason = f"the refund transaction {tx_hash} succeeded but moved nothing to the destination"
        if refund.network.family == Family.EVM and evm.is_cancel(refund.attempt_rows.get(tx_hash=tx_hash)):
            reason = (
                f"the deposit was orphaned after signing: nothing paid, the nonce went to no-op {tx_hash}"
            )
        if refund_move(refund.pk, to=RefundState.NEEDS_REVIEW, tx_hash=tx_hash, last_error=reason):
            log.error("refund needs review: %s", reason, extra={"refund_id": refund.pk})
            transition(refund.case_id, State.NEEDS_REVIEW, actor=SYSTEM, reason=reason[:200])
        return
    moved = refund_move(
        refund.pk,
        to=RefundState.CONFIRMED,
        tx_hash=tx_hash,
        raw_tx=refund.attempt_rows.get(tx_hash=tx_hash).raw_tx,
        block_number=receipt.block_number,
        block_hash=receipt.block_hash or "",
        amount_received=received,
        confirmed_at=timezone.now(),
    )
    if not moved:
        return
    data = {"tx_hash": tx_hash, "amount_received": str(received)}
    transition(refund.case_id, State.REFUND_CONFIRMED, actor=SYSTEM, data=data)
    transition(refund.case_id, State.COMPLETED, actor=SYSTEM)


@transaction.atomic
def _refund_needs_review(refund: Refund, reason: str) -> None:
    if refund_move(refund.pk, to=RefundState.NEEDS_REVIEW, last_error=reason[:2000]):
        log.error(
            "refund needs review: %s", reason, extra={"refund_id": refund.pk, "case_id": refund.case_id}
        )
        case = RecoveryCase.objects.get(pk=refund.case_id)
        if case.state in (State.REFUND_QUEUED, State.REFUND_BROADCAST, State.REFUND_CONFIRMED):
            transition(case.pk, State.NEEDS_REVIEW, actor=SYSTEM, reason=reason[:200])


# --- the sweeper -----------------------------------------------------------------------------------


def refunds_stuck() -> list[int]:
    """Refunds that sat in a working state too long (a lost message, a dead worker): for the sweeper."""
    cutoff = timezone.now() - timedelta(seconds=settings.REFUND_STUCK_AFTER_SECONDS)
    stuck = Refund.objects.filter(
        state__in=[RefundState.QUEUED, RefundState.SIGNED, RefundState.BROADCAST], updated_at__lt=cutoff
    ).values_list("pk", flat=True)
    return list(stuck[:500])
