"""The stateful model test (RELIABILITY battery #1): random sequences of what happens to deposits and refunds.

Hypothesis drives the real services against a real anvil node behind a fault-injecting proxy and the real
database: wrong deposits arrive, the policy triages them, users file cases, staff propose, approve and
reject, the refund executor advances, workers crash at the failpoints, the node answers with faults,
blocks are mined and reorganised. After every step the invariants that protect money are checked:

- at most one refund is paid per deposit (counted on the chain, at each sender);
- every transaction the node was sent is one whose bytes the database recorded;
- no nonce is used twice (per deposit address, and the gas wallet's);
- no refund was signed before its approvals were complete;
- every state change of every case is an edge of the transition table;
- at the end, when the workers have finished, reconciliation finds no double payment and no transaction
  that left our accounts without a record.

Each example runs inside a savepoint and an anvil snapshot, both rolled back at its end. A crash is the
failpoint raising `Killed` (a BaseException, so nothing catches it): like SIGKILL, an open transaction
rolls back and nothing after the point runs; the next run of that refund is a redelivery.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_utils import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chains.base import ChainError
from chains.evm.signer import LocalHDSigner
from recovery.audit.roles import Actor, Role
from recovery.cases.actions import case_approve, case_file, case_propose, case_reject
from recovery.cases.workflow import TRANSITIONS, WorkflowError, approvals_required
from recovery.deposits.scanning import network_scan
from recovery.deposits.triage import deposit_triage
from recovery.models import (
    AssetPrice,
    CaseEvent,
    DepositAddress,
    GasTopUpBatch,
    Network,
    Origin,
    RecoveryCase,
    Refund,
    RefundAttempt,
    Resolution,
    State,
    UserDestination,
    UserProfile,
)
from recovery.models.cases import CLOSED_STATES
from recovery.onchain.registry import chain_for, forget_chains
from recovery.payouts import failpoints
from recovery.payouts.execution import case_execute
from recovery.payouts.reconcile import reconcile_network
from recovery.payouts.refunds import refund_advance
from tests.chains.evm.faulty_proxy import Fault, FaultyProxy
from tests.payout_env import DEPOSIT_INDEX, deposit_of

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]
SLOTS = 4  # deposit addresses (and senders) per example: one deposit each
KINDS = ("TestToken", "NoReturnToken", "FeeToken", "TestNFT", "TestMultiToken")
POINTS = ("after_sign", "after_commit", "after_broadcast", "after_receipt", "after_top_up_commit")
EDGES = {(frm.value, to.value) for frm, to in TRANSITIONS}
SETTLED = ("confirmed", "failed", "needs_review", "cancelled")
FAULTS = (Fault.ALREADY_KNOWN, Fault.NONCE_TOO_LOW, Fault.HTTP_502, Fault.TIMEOUT)
STATS: Counter = Counter()


class Killed(BaseException):
    """The worker died at a failpoint."""


class SendLog:
    """Every raw transaction the proxy passed on to the node, by hash."""

    def __init__(self) -> None:
        self.hashes: set[str] = set()
        self.lock = threading.Lock()

    def record(self, raw_hex: str) -> None:
        with self.lock:
            self.hashes.add("0x" + keccak(bytes.fromhex(raw_hex.removeprefix("0x"))).hex())


class RecoveryModel(RuleBasedStateMachine):
    env: dict  # set by the test: node, network, contracts, users, proxy, sends, addresses, senders

    def __init__(self) -> None:
        super().__init__()
        e = self.env
        self.node, self.proxy, self.users = e["node"], e["proxy"], e["users"]
        self.snapshot = self.node.snapshot()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.deposits: list = []  # (deposit, slot, baseline balance of the sender)
        self.refund_ids: list[int] = []
        self.crashed: set[int] = set()
        self.free_slots = list(range(SLOTS))
        self.nft_used = False
        self.reorged = False
        e["sends"].hashes.clear()
        chain_for(e["network"]).rpc.timeout = 1.0  # a held answer (the TIMEOUT fault) times out
        self.node.set_automine(False)  # like a real chain: what is sent waits in the pool for a block
        STATS["examples"] += 1

    def teardown(self) -> None:
        try:
            self.finish_and_check()
        finally:  # always, or the next example would start from this one's database and chain
            self.proxy.clear()
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)
            self.node.set_automine(True)
            self.node.drop_pending()
            assert self.node.revert(self.snapshot)
            forget_chains()

    def finish_and_check(self) -> None:
        """The workers finish every refund; then the invariants once more, and reconciliation."""
        self.workers_finish()
        for check in (
            self.each_deposit_is_paid_back_at_most_once,
            self.every_transaction_sent_was_recorded_first,
            self.no_nonce_is_used_twice,
            self.nothing_is_signed_before_its_approvals,
            self.only_table_transitions,
        ):
            check()
        report = reconcile_network(Network.objects.get(pk=self.env["network"].pk))
        assert report.double_payments == 0 and report.unrecorded_outflows == 0, report.discrepancies
        STATS["reconcile mismatches (after reorgs deeper than the confirmations)"] += report.mismatches
        for state in Refund.objects.values_list("state", flat=True):
            STATS[f"refunds ended {state}"] += 1

    # --- the world -----------------------------------------------------------------------------

    @initialize(
        kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3),
        triaged=st.lists(st.booleans(), min_size=3, max_size=3),
    )
    def first_deposits(self, kinds: list[str], triaged: list[bool]) -> None:
        """Some wrong deposits, most of them triaged by the policy at once (auto-returns under way)."""
        for n, kind in enumerate(kinds):
            self.wrong_deposit(kind)
            if triaged[n]:
                self.policy_triage(len(self.deposits) - 1)
            else:
                self.user_files_case(len(self.deposits) - 1, large=n == 0)

    @precondition(lambda self: self.free_slots)
    @rule(kind=st.sampled_from(KINDS))
    def wrong_deposit(self, kind: str) -> None:
        if kind == "TestNFT":
            if self.nft_used:
                return
            self.nft_used = True
        slot = self.free_slots.pop(0)
        p = self.env["payout"]
        p.user, p.deposit_address = self.env["senders"][slot], self.env["addresses"][slot]
        self.node.set_automine(True)  # the user's wallet waits for its receipts
        try:
            deposit = deposit_of(p, kind)
        finally:
            self.node.set_automine(False)
        self.deposits.append((deposit, slot, holding(self.env, kind, p.user)))
        STATS["deposits"] += 1

    @rule(blocks=st.integers(1, 3))
    def mine(self, blocks: int) -> None:
        self.node.mine(blocks)

    @precondition(lambda self: not self.reorged)
    @rule(depth=st.integers(1, 3))
    def reorg(self, depth: int) -> None:
        """The last blocks are replaced by empty ones; their transactions are gone from the chain."""
        if self.node.head() - self.env["start"] > depth:
            self.node.rollback(depth)
            self.node.mine(depth)
            self.reorged = True
            STATS["reorgs"] += 1

    @rule()
    def scan(self) -> None:
        network_scan(network_id=self.env["network"].pk)

    @rule(fault=st.sampled_from(FAULTS), times=st.integers(1, 3))
    def node_fault(self, fault: Fault, times: int) -> None:
        """The node's next sends answer with a fault (all but the 502 reach the node first)."""
        self.proxy.inject(fault, forward=fault != Fault.HTTP_502, times=times, delay=1.2)
        STATS[f"fault {fault}"] += 1

    # --- people and policy ---------------------------------------------------------------------

    @precondition(lambda self: self.deposits)
    @rule(pick=st.integers(0, SLOTS - 1))
    def policy_triage(self, pick: int) -> None:
        deposit = self.deposits[pick % len(self.deposits)][0]
        refused(lambda: deposit_triage(deposit_id=deposit.pk))
        self.track_refunds()
        STATS["triage"] += 1

    @precondition(lambda self: self.deposits)
    @rule(pick=st.integers(0, SLOTS - 1), large=st.booleans())
    def user_files_case(self, pick: int, large: bool) -> None:
        deposit, slot, _ = self.deposits[pick % len(self.deposits)]
        alice, sender = self.users.alice, self.env["senders"][slot]

        def file() -> None:  # refused at the database if the deposit already has an open case
            case = case_file(
                origin=Origin.USER,
                category="unsupported_token",
                network=self.env["network"],
                txid=deposit.txid,
                actor=Actor.case_owner(alice),
                user=alice,
                deposit=deposit,
                refund_destination=sender,
                value_usd_cents=10**9 if large else 500,  # above / below the two-approver threshold
            )
            RecoveryCase.objects.filter(pk=case.pk).update(destination_confirmed_at=timezone.now())
            advance_case(case.pk, State.VERIFYING)
            advance_case(case.pk, State.AWAITING_REVIEW)
            STATS["user cases"] += 1

        refused(file)

    @rule(
        pick=st.integers(0, 20),
        proposer=st.sampled_from(["agent", "approver1"]),
        approvers=st.lists(st.sampled_from(["approver2", "approver1", "agent"]), min_size=1, max_size=2),
        then_queue=st.booleans(),
        large=st.booleans(),
    )
    def staff_work_a_case(
        self, pick: int, proposer: str, approvers: list[str], then_queue: bool, large: bool
    ) -> None:
        """Staff propose returning a case's deposit (a user files one if none awaits review), then give
        approvals and maybe queue the refund. The agent is no approver; a proposer can never approve."""
        case = pick_case(pick, State.AWAITING_REVIEW)
        free = [n for n, (deposit, _, _) in enumerate(self.deposits) if not open_case_exists(deposit)]
        if case is None and free:
            self.user_files_case(free[pick % len(free)], large)
            case = pick_case(pick, State.AWAITING_REVIEW)
        if case is None:
            return
        role = Role.AGENT if proposer == "agent" else Role.APPROVER
        refused(
            lambda: case_propose(
                case_id=case.pk,
                actor=Actor.staff(getattr(self.users, proposer), role),
                resolution=Resolution.ONCHAIN_RETURN,
                refund_amount=case.deposit.amount,
            ),
            "proposals made",
        )
        self.approve(case.pk, approvers)
        if then_queue:
            self.queue_refund_of(case.pk)

    @rule(
        pick=st.integers(0, 20),
        approvers=st.lists(st.sampled_from(["approver2", "approver1", "agent"]), min_size=1, max_size=2),
        then_queue=st.booleans(),
    )
    def staff_approves(self, pick: int, approvers: list[str], then_queue: bool) -> None:
        case = pick_case(pick, State.AWAITING_APPROVAL)
        if case is not None:
            self.approve(case.pk, approvers)
            if then_queue:
                self.queue_refund_of(case.pk)

    def approve(self, case_id: int, approvers: list[str]) -> None:
        for who in approvers:
            actor = Actor.staff(getattr(self.users, who), Role.APPROVER)
            refused(lambda actor=actor: case_approve(case_id=case_id, actor=actor), "approvals given")

    @rule(pick=st.integers(0, 20))
    def staff_rejects(self, pick: int) -> None:
        case = pick_case(pick, None)
        if case is not None:
            actor = Actor.staff(self.users.approver1, Role.APPROVER)
            refused(lambda: case_reject(case_id=case.pk, actor=actor, reason_code="not_our_address"))

    @rule(pick=st.integers(0, 20))
    def queue_approved_refund(self, pick: int) -> None:
        case = pick_case(pick, None)  # any state: queueing a case that is not approved must be refused
        if case is not None:
            self.queue_refund_of(case.pk)

    def queue_refund_of(self, case_id: int) -> None:
        # What the worker does on the commit of an approval (tasks.case_execute); a no-op otherwise.
        refused(lambda: case_execute(case_id=case_id), "approved cases executed")
        self.track_refunds()

    # --- the refund executor -------------------------------------------------------------------

    @precondition(lambda self: self.refund_ids)
    @rule(pick=st.integers(0, 20), steps=st.integers(1, 10), fault=st.none() | st.sampled_from(FAULTS))
    def worker_runs(self, pick: int, steps: int, fault: Fault | None) -> None:
        """A worker takes one refund several steps on, a block mined after each; maybe the node faults."""
        if fault is not None:
            self.node_fault(fault, 1)
        for _ in range(steps):
            self.advance(self.refund_ids[pick % len(self.refund_ids)], crash_at=None)
            self.node.mine(1)

    @precondition(lambda self: self.refund_ids)
    @rule()
    def workers_run_everything(self) -> None:
        """Every refund one step on, in the same block: nonces and top-ups pipelined."""
        for refund_id in list(self.refund_ids):
            self.advance(refund_id, crash_at=None)
        self.node.mine(1)

    @precondition(lambda self: self.refund_ids)
    @rule(pick=st.integers(0, 20), point=st.sampled_from(POINTS))
    def worker_dies(self, pick: int, point: str) -> None:
        self.advance(self.refund_ids[pick % len(self.refund_ids)], crash_at=point)

    def advance(self, refund_id: int, crash_at: str | None) -> None:
        django_settings.RECOVERY_FAILPOINTS = f"{crash_at}:1" if crash_at else ""
        try:
            refund_advance(refund_id=refund_id, redelivered=refund_id in self.crashed)
            self.crashed.discard(refund_id)
        except Killed:
            self.crashed.add(refund_id)
            STATS["crashes"] += 1
        except ChainError:  # a transient node error: the Celery task retries it
            STATS["node errors"] += 1
        finally:
            django_settings.RECOVERY_FAILPOINTS = ""
        STATS["advances"] += 1

    def workers_finish(self, rounds: int = 30) -> None:
        """The end of every history: the faults stop and the workers run until no refund moves on."""
        self.proxy.clear()
        due = set(self.refund_ids)
        for _ in range(rounds):
            for refund_id in sorted(due):
                self.advance(refund_id, crash_at=None)
                if Refund.objects.get(pk=refund_id).state in SETTLED:
                    due.discard(refund_id)
            if not due:
                return
            self.node.mine(1)

    def track_refunds(self) -> None:
        for pk in Refund.objects.order_by("pk").values_list("pk", flat=True):
            if pk not in self.refund_ids:
                self.refund_ids.append(pk)

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def each_deposit_is_paid_back_at_most_once(self) -> None:
        for deposit, slot, baseline in self.deposits:
            if not self.reorged:  # a reorg can undo the deposit itself: then only the count below holds
                kind = kind_of(self.env, deposit.contract)
                gained = holding(self.env, kind, self.env["senders"][slot]) - baseline
                assert 0 <= gained <= deposit.amount, f"deposit {deposit.pk} ({kind}) paid back {gained}"
            # Only a refund of this deposit can leave its address: at most one transaction, ever.
            sent = nonce(self.node, self.env["addresses"][slot])
            assert sent <= 1, f"{sent} transactions left the deposit address of deposit {deposit.pk}"
        STATS["invariant checks"] += 1

    @invariant()
    def every_transaction_sent_was_recorded_first(self) -> None:
        sent = self.env["sends"].hashes
        if sent:
            recorded = set(RefundAttempt.objects.filter(tx_hash__in=sent).values_list("tx_hash", flat=True))
            recorded |= set(GasTopUpBatch.objects.filter(tx_hash__in=sent).values_list("tx_hash", flat=True))
            assert sent <= recorded, f"sent but never recorded: {sent - recorded}"

    @invariant()
    def no_nonce_is_used_twice(self) -> None:
        by_account: dict[tuple[str, int], set[int]] = {}
        for sender, n, refund_id in RefundAttempt.objects.values_list("refund__sender", "nonce", "refund_id"):
            by_account.setdefault((sender, n), set()).add(refund_id)
        twice = {key: ids for key, ids in by_account.items() if len(ids) > 1}
        assert not twice, f"one nonce signed for two refunds: {twice}"
        nonces = list(GasTopUpBatch.objects.values_list("nonce", flat=True))
        assert len(nonces) == len(set(nonces)), f"gas wallet nonces reused: {sorted(nonces)}"

    @invariant()
    def nothing_is_signed_before_its_approvals(self) -> None:
        for refund in Refund.objects.filter(signed_at__isnull=False).select_related("case"):
            case = refund.case
            approved = CaseEvent.objects.filter(case=case, to_state=State.APPROVED).order_by("seq").first()
            assert approved is not None and approved.created_at <= refund.signed_at, (
                f"refund {refund.pk} signed without an approval"
            )
            if case.origin == Origin.USER:  # distinct approvers, never the proposer (four eyes)
                approvers = set(
                    CaseEvent.objects.filter(
                        case=case, kind="approval_given", created_at__lte=approved.created_at
                    ).values_list("actor_id", flat=True)
                ) - {case.proposed_by_id}
                assert len(approvers) >= approvals_required(case), f"case {case.pk}: approved by {approvers}"
                STATS["approved user refunds checked"] += 1

    @invariant()
    def only_table_transitions(self) -> None:
        moves = CaseEvent.objects.exclude(from_state="").exclude(to_state="")
        for frm, to, kind in moves.values_list("from_state", "to_state", "kind"):
            assert (frm, to) in EDGES, f"{kind}: {frm} -> {to} is not in the table"


def refused(action, label: str = "") -> None:
    """Run a person's or the policy's action; a refusal is a correct answer, not a failure."""
    try:
        with transaction.atomic():
            action()
    except (WorkflowError, IntegrityError) as refusal:
        STATS[f"refused: {type(refusal).__name__}"] += 1
    else:
        if label:
            STATS[label] += 1


def advance_case(case_id: int, to: State) -> None:
    from recovery.cases.workflow import transition

    transition(case_id, to, actor=Actor.system())


def open_case_exists(deposit) -> bool:
    return RecoveryCase.objects.filter(deposit=deposit).exclude(state__in=CLOSED_STATES).exists()


def pick_case(pick: int, state: State | None) -> RecoveryCase | None:
    cases = RecoveryCase.objects.select_related("deposit").order_by("pk")
    if state is not None:
        cases = cases.filter(state=state)
    cases = list(cases)
    return cases[pick % len(cases)] if cases else None


def nonce(node, address: str) -> int:
    return int(node.rpc.call("eth_getTransactionCount", [address, "latest"]), 16)


def kind_of(env: dict, contract: str) -> str:
    return next(k for k, c in env["contracts"].items() if c.address.lower() == contract.lower())


def holding(env: dict, kind: str, holder: str) -> int:
    node, c = env["node"], env["contracts"][kind]
    if kind == "TestNFT":
        try:
            return int(node.call(c, "ownerOf", 42).lower() == holder.lower())
        except Exception:  # not minted in this example
            return 0
    if kind == "TestMultiToken":
        return node.call(c, "balanceOf", holder, 7)
    return node.call(c, "balanceOf", holder)


@pytest.fixture
def model_env(payout, monkeypatch, settings):
    """The payout setting behind a recording, fault-injecting proxy, with SLOTS deposit addresses."""
    node, network = payout.node, payout.network
    settings.REFUND_BUMP_AFTER_SECONDS = 0  # fee bumps happen whenever a refund waits in the pool
    settings.REFUND_MAX_UNCLEAR_SENDS = 3
    monkeypatch.setattr(failpoints, "die", lambda: (_ for _ in ()).throw(Killed()))
    signer = LocalHDSigner(django_settings.SIGNER_MNEMONIC)
    addresses = [signer.address(DEPOSIT_INDEX + 1 + n) for n in range(SLOTS)]
    for n, address in enumerate(addresses):
        DepositAddress.objects.create(
            family="evm", address=address, owner_ref="ACC-alice", derivation_index=DEPOSIT_INDEX + 1 + n
        )
    UserProfile.objects.filter(user=payout.users.alice).update(account_ref="ACC-alice")
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
    )
    for kind in KINDS:
        decimals = 0 if kind in ("TestNFT", "TestMultiToken") else 18
        AssetPrice.objects.create(
            network=network,
            contract=payout.contracts[kind].address,
            symbol=kind[:8],
            decimals=decimals,
            usd_micros_per_unit=10**6,
        )
    senders = node.accounts[1 : 1 + SLOTS]
    now = timezone.now()
    for sender in senders:
        UserDestination.objects.create(
            user=payout.users.alice,
            family="evm",
            address=sender,
            confirmed_at=now,
            usable_after=now - timedelta(seconds=1),
        )
    sends = SendLog()
    with FaultyProxy(node.url, on_send=sends.record) as proxy:
        Network.objects.filter(pk=network.pk).update(rpc_url=proxy.url)
        payout.network.refresh_from_db()
        forget_chains()
        yield {
            "payout": payout,
            "node": node,
            "network": payout.network,
            "contracts": payout.contracts,
            "users": payout.users,
            "proxy": proxy,
            "sends": sends,
            "addresses": addresses,
            "senders": senders,
            "start": node.head(),
        }
    forget_chains()


@pytest.mark.timeout(900)
def test_random_histories_never_pay_twice(model_env):
    STATS.clear()
    RecoveryModel.env = model_env
    examples = int(os.environ.get("MODEL_EXAMPLES", "20"))  # more for a longer hunt: MODEL_EXAMPLES=200
    run_state_machine_as_test(
        RecoveryModel,
        settings=settings(
            max_examples=examples,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            # No shrinking: each step drives a node and a database, so shrinking a long history can take
            # longer than the test's timeout. A failure is reported with its whole history instead.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
    print(f"\nstateful model: {dict(STATS)}")
    assert STATS["examples"] >= examples and STATS["advances"] > 0
