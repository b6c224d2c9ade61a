"""EVM refunds on a real node: each token kind returned once; crashes and node faults never pay twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_change_destination, case_file, case_propose
from recovery.cases.selectors import next_step
from recovery.cases.waiting import staff_waiting
from recovery.cases.workflow import approvals_complete, transition
from recovery.models import (
    CaseEvent,
    Deposit,
    DepositStatus,
    GasTopUp,
    Network,
    Refund,
    RefundState,
    Resolution,
    ScreenedAddress,
    State,
    UserDestination,
)
from recovery.onchain.registry import chain_for, forget_chains
from recovery.payouts.execution import case_execute
from recovery.payouts.refunds import refund_advance, refund_queue
from tests.chains.evm.faulty_proxy import Fault, FaultyProxy
from tests.payout_env import Payout, balance, deposit_of, run_to_end

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def approved_case(p: Payout, deposit: Deposit, *, amount: int | None = None):
    alice = p.users.alice
    case = case_file(
        origin="user",
        category="unsupported_token",
        network=p.network,
        txid=deposit.txid,
        actor=Actor.case_owner(alice),
        user=alice,
        deposit=deposit,
        refund_destination=p.user,
    )
    now = timezone.now()
    UserDestination.objects.get_or_create(
        user=alice,
        family="evm",
        address=p.user,
        defaults={"confirmed_at": now, "usable_after": now - timedelta(seconds=1)},
    )
    case.destination_confirmed_at = now
    case.save(update_fields=["destination_confirmed_at"])
    transition(case.pk, State.VERIFYING, actor=Actor.system())
    transition(case.pk, State.AWAITING_REVIEW, actor=Actor.system())
    case_propose(
        case_id=case.pk,
        actor=Actor.staff(p.users.agent, Role.AGENT),
        resolution=Resolution.ONCHAIN_RETURN,
        refund_amount=amount or deposit.amount,
    )
    return case_approve(case_id=case.pk, actor=Actor.staff(p.users.approver1, Role.APPROVER))


@pytest.mark.parametrize("kind", ["TestToken", "NoReturnToken", "TestNFT", "TestMultiToken"])
def test_each_token_kind_goes_back_to_the_sender_once(payout, kind):
    deposit = deposit_of(payout, kind)
    case = approved_case(payout, deposit)
    before = balance(payout, kind, payout.user)

    refund = run_to_end(payout, refund_queue(case_id=case.pk))

    assert refund.state == RefundState.CONFIRMED
    assert balance(payout, kind, payout.user) - before == deposit.amount
    assert refund.amount_received == deposit.amount
    assert payout.nonce(payout.deposit_address) == 1, "exactly one transaction left the deposit address"
    case.refresh_from_db()
    assert case.state == State.COMPLETED
    kinds = list(CaseEvent.objects.filter(case=case).values_list("kind", flat=True))
    assert kinds[-4:] == ["queue_refund", "refund_broadcast", "refund_confirmed", "complete"]
    top_up = GasTopUp.objects.get(refund=refund)
    assert top_up.state == "confirmed" and top_up.amount > 0


def test_a_fee_on_transfer_token_is_judged_by_what_arrived(payout):
    deposit = deposit_of(payout, "FeeToken")
    received = deposit.amount  # the scanner recorded what reached the deposit address
    refund = run_to_end(payout, refund_queue(case_id=approved_case(payout, deposit).pk))
    assert refund.state == RefundState.CONFIRMED
    assert refund.amount_received == received - received * 100 // 10_000  # the token keeps 1% again


def test_a_native_refund_pays_its_own_gas_from_the_amount(payout):
    deposit = deposit_of(payout, "native")
    before = payout.node.balance(payout.user)
    refund = run_to_end(payout, refund_queue(case_id=approved_case(payout, deposit).pk))
    assert refund.state == RefundState.CONFIRMED
    gained = payout.node.balance(payout.user) - before
    assert 0 < gained < deposit.amount and refund.amount_received == gained
    assert not GasTopUp.objects.filter(refund=refund).exists()


def test_a_token_that_refuses_transfers_goes_to_a_human_and_nothing_is_sent(payout):
    deposit = deposit_of(payout, "RevertingToken")
    case = approved_case(payout, deposit)
    refund = run_to_end(payout, refund_queue(case_id=case.pk))
    assert refund.state == RefundState.NEEDS_REVIEW
    assert payout.nonce(payout.deposit_address) == 0
    case.refresh_from_db()
    assert case.state == State.NEEDS_REVIEW


def test_an_orphaned_deposit_is_never_refunded(payout):
    deposit = deposit_of(payout, "NoReturnToken")
    case = approved_case(payout, deposit)
    refund = refund_queue(case_id=case.pk)
    Deposit.objects.filter(pk=deposit.pk).update(
        status=DepositStatus.ORPHANED
    )  # as the scanner does on a reorg

    refund = run_to_end(payout, refund)

    assert refund.state == RefundState.NEEDS_REVIEW and "orphaned" in refund.last_error
    assert payout.nonce(payout.deposit_address) == 0 and not refund.raw_tx


def test_a_destination_changed_after_queueing_is_not_paid(payout):
    deposit = deposit_of(payout, "NoReturnToken")
    case = approved_case(payout, deposit)
    refund = refund_queue(case_id=case.pk)
    # Forge the change around the service (which refuses it once the refund is queued) to prove the
    # executor re-checks the approved terms itself.
    type(case).objects.filter(pk=case.pk).update(refund_destination=payout.node.accounts[6])

    refund = run_to_end(payout, refund)

    assert refund.state == RefundState.NEEDS_REVIEW
    assert payout.nonce(payout.deposit_address) == 0


def test_a_destination_changed_before_signing_cancels_the_refund_and_voids_the_approval(payout):
    deposit = deposit_of(payout, "NoReturnToken")
    case = approved_case(payout, deposit)
    refund = refund_queue(case_id=case.pk)

    case_change_destination(
        case_id=case.pk, actor=Actor.case_owner(payout.users.alice), destination=payout.node.accounts[6]
    )

    refund.refresh_from_db()
    case.refresh_from_db()
    assert refund.state == RefundState.CANCELLED and not refund.raw_tx
    assert case.state == State.AWAITING_REVIEW and not approvals_complete(case)
    assert refund_advance(refund_id=refund.pk) is None  # a message already queued for it does nothing
    assert payout.nonce(payout.deposit_address) == 0


def test_a_destination_cannot_change_once_the_refund_is_signed(payout):
    deposit = deposit_of(payout, "NoReturnToken")
    case = approved_case(payout, deposit)
    refund = refund_queue(case_id=case.pk)
    while Refund.objects.get(pk=refund.pk).state == RefundState.QUEUED:
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)

    with pytest.raises(Exception, match="already signed"):
        case_change_destination(
            case_id=case.pk, actor=Actor.case_owner(payout.users.alice), destination=payout.node.accounts[6]
        )
    case.refresh_from_db()
    assert case.refund_destination == payout.user


def test_a_worker_killed_after_signing_sends_the_same_bytes_once(payout):
    deposit = deposit_of(payout, "TestToken")
    refund = refund_queue(case_id=approved_case(payout, deposit).pk)
    while Refund.objects.get(pk=refund.pk).state == RefundState.QUEUED:  # top-up, then sign
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)
    signed = Refund.objects.get(pk=refund.pk)
    assert signed.state == RefundState.SIGNED and signed.raw_tx
    # The worker dies here. Its message is redelivered: the next run must send the stored bytes.

    refund_advance(refund_id=refund.pk, redelivered=True)
    refund_advance(refund_id=refund.pk, redelivered=True)  # and a duplicate run changes nothing
    refund = run_to_end(payout, signed)

    assert refund.state == RefundState.CONFIRMED and refund.tx_hash == signed.tx_hash
    assert refund.attempts == 1 and payout.nonce(payout.deposit_address) == 1
    assert refund.deliveries == 2


@pytest.mark.parametrize(
    ("fault", "forward"),
    [
        (Fault.ALREADY_KNOWN, True),
        (Fault.TIMEOUT, True),
        (Fault.HTTP_502, False),
        (Fault.NONCE_TOO_LOW, True),
    ],
)
def test_unclear_node_answers_end_in_one_payment(payout, fault, forward):
    deposit = deposit_of(payout, "TestToken")
    refund = refund_queue(case_id=approved_case(payout, deposit).pk)
    with FaultyProxy(payout.node.url) as proxy:
        Network.objects.filter(pk=payout.network.pk).update(rpc_url=proxy.url)
        payout.network.refresh_from_db()
        forget_chains()
        chain_for(payout.network).rpc.timeout = 1.0
        while Refund.objects.get(pk=refund.pk).state == RefundState.QUEUED:
            refund_advance(refund_id=refund.pk)
            payout.node.mine(1)
        proxy.inject(fault, forward=forward, times=1)
        refund = run_to_end(payout, refund)

    assert refund.state == RefundState.CONFIRMED
    assert refund.attempts == 1, "the refund was never re-signed"
    assert payout.nonce(payout.deposit_address) == 1
    assert balance(payout, "TestToken", payout.user) == 10 * 10**18  # minted 10, deposited 3, got 3 back


@pytest.mark.parametrize("problem", ["sanctioned_after_approval", "destination_unconfirmed"])
def test_a_destination_that_fails_its_checks_after_approval_is_refused_at_signing(payout, problem):
    deposit = deposit_of(payout, "NoReturnToken")
    case = approved_case(payout, deposit)
    case_execute(case_id=case.pk)  # what the worker does on the approval's commit
    if problem == "sanctioned_after_approval":
        ScreenedAddress.objects.create(family="evm", address=payout.user, kind="sanctioned", label="OFAC")
    else:  # forged around the services, which never leave a user's destination unconfirmed
        type(case).objects.filter(pk=case.pk).update(destination_confirmed_at=None)

    refund = run_to_end(payout, Refund.objects.get(case=case))

    assert refund.state == RefundState.NEEDS_REVIEW and not refund.raw_tx
    assert payout.nonce(payout.deposit_address) == 0
    case.refresh_from_db()
    assert case.state == State.NEEDS_REVIEW
    assert staff_waiting(case).endswith(f"({refund.last_error}).")
    assert next_step(case).startswith("We stopped the refund before anything was sent")
