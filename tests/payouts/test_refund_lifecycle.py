"""The refund table is domain law: every allowed edge moves a refund, every other pair is refused, and the
one compare-and-swap never moves a refund twice."""

from __future__ import annotations

import itertools
import uuid

import pytest

from recovery.models import REFUND_TRANSITIONS, Refund, RefundState, State, refund_move
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db
PAIRS = list(itertools.product(RefundState, RefundState))
SIGNED_STATES = {RefundState.SIGNED, RefundState.BROADCAST, RefundState.CONFIRMED, RefundState.FAILED}


def refund_in(network, state: RefundState) -> Refund:
    deposit = make_deposit(network)
    case = make_case(network, state=State.REFUND_QUEUED, deposit=deposit)
    unsigned = state in (RefundState.QUEUED, RefundState.CANCELLED)
    return Refund.objects.create(
        case=case,
        deposit=deposit,
        network=network,
        state=state,
        destination="0x4444444444444444444444444444444444444444",
        standard="erc20",
        amount=10**18,
        sender=deposit.recipient,
        raw_tx="" if unsigned else "0x02f8",
        tx_hash="" if unsigned else f"0x{uuid.uuid4().hex}",
    )


def test_every_refund_state_has_a_row_in_the_table():
    assert set(REFUND_TRANSITIONS) == set(RefundState)


@pytest.mark.parametrize(("frm", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_a_refund_moves_along_the_table_and_nowhere_else(network, frm, to):
    refund = refund_in(network, frm)
    # Signed states need their bytes (a database constraint): a move to one carries them, as signing does.
    signed = {"raw_tx": "0x02f8", "tx_hash": f"0x{uuid.uuid4().hex}"} if to in SIGNED_STATES else {}

    moved = refund_move(refund.pk, to=to, **signed)

    refund.refresh_from_db()
    assert moved == (to in REFUND_TRANSITIONS[frm])
    assert refund.state == (to if moved else frm)


def test_the_second_of_two_identical_moves_does_nothing(network):
    refund = refund_in(network, RefundState.SIGNED)
    assert refund_move(refund.pk, to=RefundState.BROADCAST) is True
    assert refund_move(refund.pk, to=RefundState.BROADCAST) is False


def test_a_finished_refund_never_moves_again(network):
    for state in (RefundState.CONFIRMED, RefundState.FAILED, RefundState.CANCELLED, RefundState.NEEDS_REVIEW):
        assert REFUND_TRANSITIONS[state] == frozenset()
