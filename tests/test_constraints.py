"""The rules that protect money are database constraints: each refusal is named and writes nothing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from recovery.models import Deposit, Refund, State
from tests.factories import make_case, make_deposit

pytestmark = pytest.mark.django_db

UINT256_MAX = 2**256 - 1


def make_refund(case, deposit, **fields) -> Refund:
    defaults = dict(
        network=case.network,
        destination=case.refund_destination,
        standard="erc20",
        contract=deposit.contract,
        amount=deposit.amount,
        sender=deposit.recipient,
    )
    defaults.update(fields)
    return Refund.objects.create(case=case, deposit=deposit, **defaults)


def refused(constraint: str):
    return pytest.raises(IntegrityError, match=constraint)


def test_a_deposit_is_recorded_once_per_network_txid_and_index(network):
    deposit = make_deposit(network)
    with refused("deposit_unique_per_network_tx_index"), transaction.atomic():
        make_deposit(network, txid=deposit.txid, index=deposit.index)
    assert Deposit.objects.count() == 1


def test_the_items_of_one_erc1155_batch_are_distinct_deposits(network):
    first = make_deposit(network, standard="erc1155", token_id=1)
    make_deposit(network, txid=first.txid, index=first.index, sub_index=1, standard="erc1155", token_id=2)
    assert Deposit.objects.filter(txid=first.txid).count() == 2


@pytest.mark.parametrize("amount", [0, -1])
def test_zero_and_negative_deposit_amounts_are_refused(network, amount):
    with refused("deposit_amount_gt_0"), transaction.atomic():
        make_deposit(network, amount=amount)
    assert not Deposit.objects.exists()


def test_amounts_up_to_uint256_are_stored_exactly(network):
    deposit = make_deposit(network, amount=UINT256_MAX, token_id=UINT256_MAX - 1)
    deposit.refresh_from_db()
    assert (deposit.amount, deposit.token_id) == (UINT256_MAX, UINT256_MAX - 1)
    assert isinstance(deposit.amount, int)


def test_floats_are_never_amounts(network):
    with pytest.raises(TypeError, match="never floats"):
        make_deposit(network, amount=1.5)


def test_a_case_has_one_live_refund_at_most(network, users):
    deposit = make_deposit(network)
    case = make_case(network, users.alice, state=State.REFUND_QUEUED, deposit=deposit)
    make_refund(case, deposit)
    with refused("refund_one_live_per_case"), transaction.atomic():
        make_refund(case, make_deposit(network))


def test_a_deposit_is_refunded_at_most_once_even_through_two_cases(network, users):
    deposit = make_deposit(network)
    first = make_case(network, users.alice, state=State.REFUND_QUEUED, deposit=deposit)
    make_refund(first, deposit)
    first.state = State.REJECTED  # even if the first case were closed, its live refund still blocks
    first.save()
    second = make_case(network, users.alice, state=State.REFUND_QUEUED, deposit=deposit)
    with refused("refund_one_live_per_deposit"), transaction.atomic():
        make_refund(second, deposit)
    assert Refund.objects.count() == 1


def test_a_failed_refund_does_not_block_a_new_one(network, users):
    deposit = make_deposit(network)
    case = make_case(network, users.alice, state=State.REFUND_QUEUED, deposit=deposit)
    make_refund(case, deposit, state="failed", raw_tx="00", tx_hash="0xdead")
    make_refund(case, deposit)
    assert Refund.objects.count() == 2


def test_a_deposit_has_one_open_case_at_most(network, users):
    deposit = make_deposit(network)
    make_case(network, users.alice, deposit=deposit)
    with refused("case_one_open_case_per_deposit"), transaction.atomic():
        make_case(network, users.bob, deposit=deposit)


def test_two_refunds_never_share_a_sender_nonce(network, users):
    a, b = make_deposit(network), make_deposit(network)
    case_a = make_case(network, users.alice, deposit=a)
    case_b = make_case(network, users.alice, deposit=b)
    make_refund(case_a, a, sender="0xabc", nonce=7)
    with refused("refund_nonce_unique_per_sender"), transaction.atomic():
        make_refund(case_b, b, sender="0xabc", nonce=7)


def test_a_refund_cannot_be_marked_broadcast_without_its_signed_bytes(network, users):
    deposit = make_deposit(network)
    case = make_case(network, users.alice, deposit=deposit)
    with refused("refund_signed_bytes_stored_before_broadcast"), transaction.atomic():
        make_refund(case, deposit, state="broadcast", tx_hash="0xabc")


@pytest.mark.parametrize("amount", [0, -5])
def test_refund_amounts_must_be_positive(network, users, amount):
    deposit = make_deposit(network)
    case = make_case(network, users.alice, deposit=deposit)
    with refused("refund_amount_gt_0"), transaction.atomic():
        make_refund(case, deposit, amount=amount)
