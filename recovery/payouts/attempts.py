"""A signed version of a refund, recorded before it is ever sent: the same for every chain family."""

from __future__ import annotations

from django.utils import timezone

from chains.base import SignedTx
from recovery.models import Refund, RefundAttempt, RefundState, refund_move


def attempt_record(refund: Refund, signed: SignedTx, *, fee_cap: int, unsigned: dict) -> None:
    """Store `signed` as the refund's next attempt and make it the current one (state signed). Called in
    the transaction that holds the refund's row lock; `unsigned` keeps what a fee bump needs."""
    number = refund.attempts + 1
    RefundAttempt.objects.create(
        refund=refund,
        number=number,
        raw_tx=signed.raw.hex(),
        tx_hash=signed.txid,
        nonce=signed.nonce,
        fee_cap=fee_cap,
        unsigned=unsigned,
    )
    current = {
        "raw_tx": signed.raw.hex(),
        "tx_hash": signed.txid,
        "nonce": signed.nonce,
        "attempts": number,
        "signed_at": refund.signed_at or timezone.now(),
    }
    if not refund_move(refund.pk, to=RefundState.SIGNED, **current):
        raise RuntimeError(f"refund {refund.pk} moved while its row was locked for signing")
    for field, value in current.items():
        setattr(refund, field, value)
    refund.state = RefundState.SIGNED
