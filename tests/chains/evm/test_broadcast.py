"""Broadcast classification: node answers (from the table and from a real anvil), and injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from chains.base import BroadcastOutcome, TxStatus
from chains.evm.broadcast import classify_node_error, resolve_unclear, send_raw
from chains.evm.refund import native_transfer, unsigned_tx
from chains.evm.rpc import JsonRpc
from chains.evm.signer import EvmUnsigned, Fees, LocalHDSigner
from tests.chains.evm.faulty_proxy import Fault, FaultyProxy

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
RECIPIENT = "0x000000000000000000000000000000000000bEEF"
FEES = Fees(max_fee_per_gas=20 * 10**9, max_priority_fee_per_gas=10**9)
A, K, U, R, F, P = (
    BroadcastOutcome.ACCEPTED,
    BroadcastOutcome.ALREADY_KNOWN,
    BroadcastOutcome.UNCLEAR,
    BroadcastOutcome.REJECTED,
    BroadcastOutcome.UNFUNDED,
    BroadcastOutcome.UNDERPRICED,
)

# Answers as the named clients word them; the expected outcome follows the classification rules.
NODE_ANSWERS = [
    ("already known", K),  # geth
    ("known transaction: 8bd1c3f2a6e0", K),  # geth < 1.9
    ("Known transaction", K),  # besu
    ("transaction already imported", K),  # anvil / reth
    ("Transaction with the same hash was already imported.", K),  # openethereum
    ("AlreadyKnown", K),  # nethermind
    ("nonce too low", U),  # geth, anvil
    ("nonce too low: next nonce 5, tx nonce 3", U),  # geth >= 1.11
    ("Transaction nonce is too low. Try incrementing the nonce.", U),  # openethereum
    ("OldNonce", U),  # nethermind
    ("replacement transaction underpriced", U),  # geth, anvil
    ("REPLACEMENT_UNDERPRICED", U),
    ("insufficient funds for gas * price + value", F),  # geth
    ("Insufficient funds for gas * price + value", F),  # anvil
    ("insufficient funds for gas * price + value: address 0xabc have 1 want 2", F),
    ("intrinsic gas too low", R),
    ("exceeds block gas limit", R),  # geth
    ("intrinsic gas too high -- tx.gas_limit > env.block.gas_limit", R),  # anvil / reth
    ("max fee per gas less than block base fee", P),  # anvil / reth
    ("max fee per gas less than block base fee: address 0xabc, maxFeePerGas: 1, baseFee: 9", P),
    ("fee cap less than block base fee", P),  # geth ("transaction's fee cap ...")
    ("transaction underpriced", P),
    ("invalid chain id for signer", R),
    ("something the table has never seen", U),
    ("", U),
]


@pytest.mark.parametrize(("message", "expected"), NODE_ANSWERS)
def test_node_answer_is_classified(message, expected):
    assert classify_node_error(message) is expected


@pytest.fixture(scope="module")
def signer() -> LocalHDSigner:
    return LocalHDSigner(ANVIL_MNEMONIC)


def _payment(
    nonce: int, *, value: int = 1, gas: int = 21_000, fees: Fees = FEES, key: int = 0
) -> EvmUnsigned:
    return unsigned_tx(
        native_transfer(RECIPIENT, value), key=key, nonce=nonce, gas=gas, fees=fees, chain_id=31337
    )


def _nonce(anvil, address: str, block: str = "latest") -> int:
    return int(anvil.rpc.call("eth_getTransactionCount", [address, block]), 16)


@pytest.mark.anvil
@pytest.mark.timeout(60)
class TestRealNodeAnswers:
    def test_fresh_send_is_accepted_and_the_resend_already_known(self, evm_snapshot, signer):
        anvil = evm_snapshot
        anvil.set_automine(False)
        signed = signer.sign(_payment(_nonce(anvil, signer.address(0))))
        assert send_raw(anvil.rpc, signed).outcome is A
        again = send_raw(anvil.rpc, signed)
        assert (again.outcome, again.txid) == (K, signed.txid)
        anvil.mine()
        assert _nonce(anvil, signer.address(0)) == signed.nonce + 1
        assert anvil.balance(RECIPIENT) == 1

    def test_resend_after_mining_is_unclear_not_a_failure(self, evm_snapshot, signer):
        signed = signer.sign(_payment(_nonce(evm_snapshot, signer.address(0))))
        assert send_raw(evm_snapshot.rpc, signed).outcome is A
        evm_snapshot.wait_receipt(signed.txid)  # anvil seals the block asynchronously, even on automine
        result = send_raw(evm_snapshot.rpc, signed)
        assert result.outcome is U
        assert "nonce too low" in result.detail

    def test_same_nonce_with_the_same_fees_is_unclear(self, evm_snapshot, signer):
        evm_snapshot.set_automine(False)
        nonce = _nonce(evm_snapshot, signer.address(0))
        assert send_raw(evm_snapshot.rpc, signer.sign(_payment(nonce))).outcome is A
        assert send_raw(evm_snapshot.rpc, signer.sign(_payment(nonce, value=2))).outcome is U

    @pytest.mark.parametrize(
        "overrides",
        [dict(gas=20_000), dict(gas=10**12)],
        ids=["intrinsic-gas", "block-gas-limit"],
    )
    def test_refusal_that_resending_cannot_fix_is_rejected(self, evm_snapshot, signer, overrides):
        nonce = _nonce(evm_snapshot, signer.address(0))
        result = send_raw(evm_snapshot.rpc, signer.sign(_payment(nonce, **overrides)))
        assert result.outcome is R, result.detail
        assert _nonce(evm_snapshot, signer.address(0), "pending") == nonce

    def test_a_fee_below_the_base_fee_is_underpriced_a_refusal_that_re_signing_fixes(
        self, evm_snapshot, signer
    ):
        nonce = _nonce(evm_snapshot, signer.address(0))
        result = send_raw(evm_snapshot.rpc, signer.sign(_payment(nonce, fees=Fees(gas_price=1))))
        assert result.outcome is P, result.detail
        assert _nonce(evm_snapshot, signer.address(0), "pending") == nonce

    def test_a_sender_that_cannot_pay_is_unfunded_and_the_same_bytes_go_through_once_funded(
        self, evm_snapshot, signer
    ):
        nonce = _nonce(evm_snapshot, signer.address(0))
        signed = signer.sign(_payment(nonce, value=10**30))
        assert send_raw(evm_snapshot.rpc, signed).outcome is F
        evm_snapshot.set_balance(signer.address(0), 2 * 10**30)
        assert send_raw(evm_snapshot.rpc, signed).outcome is A

    def test_unreachable_node_is_unclear(self, signer):
        rpc = JsonRpc("http://127.0.0.1:9", timeout=(0.5, 0.5))
        assert send_raw(rpc, signer.sign(_payment(0))).outcome is U


# --- injected faults: every send ends mined exactly once, or clearly unresolved -----------------

VALUE = 777
CLIENT_TIMEOUT = (1.0, 0.5)  # (connect, read) seconds: the proxy's held answers outlast the read timeout


@pytest.fixture
def proxy(anvil) -> Iterator[FaultyProxy]:
    with FaultyProxy(anvil.url) as running:
        yield running


@pytest.fixture
def via_proxy(proxy) -> Iterator[JsonRpc]:
    rpc = JsonRpc(proxy.url, timeout=CLIENT_TIMEOUT)
    yield rpc
    rpc.close()


def _paid_times(anvil, sender: str, nonce_before: int, balance_before: int) -> int:
    """How many payments reached the chain: counted by the sender's nonce and the recipient's balance.

    anvil seals a block just after it accepts a transaction, so the two reads can straddle the seal:
    read both again until they describe the same block (bounded), then they must agree.
    """
    deadline = time.monotonic() + 5
    while True:
        head = anvil.head()
        nonce_moves = _nonce(anvil, sender) - nonce_before
        payments = (anvil.balance(RECIPIENT) - balance_before) // VALUE
        if anvil.head() == head or time.monotonic() > deadline:
            break
    assert nonce_moves == payments
    return payments


# (fault, node got the bytes, what send_raw says, where resolve_unclear finds the tx)
FAULTS = [
    (Fault.TIMEOUT, True, U, TxStatus.SUCCESS),
    (Fault.TIMEOUT, False, U, None),
    (Fault.ALREADY_KNOWN, True, K, TxStatus.SUCCESS),
    (Fault.ALREADY_KNOWN, False, K, None),
    (Fault.NONCE_TOO_LOW, True, U, TxStatus.SUCCESS),
    (Fault.NONCE_TOO_LOW, False, U, None),
    (Fault.HTTP_502, True, U, TxStatus.SUCCESS),
    (Fault.HTTP_502, False, U, None),
]


@pytest.mark.anvil
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("fault", "forward", "outcome", "found"), FAULTS, ids=lambda v: str(v))
def test_fault_ends_mined_once_or_clearly_unresolved(
    evm_snapshot, evm_chain, signer, proxy, via_proxy, fault, forward, outcome, found
):
    anvil, sender = evm_snapshot, signer.address(0)
    nonce, balance = _nonce(anvil, sender), anvil.balance(RECIPIENT)
    signed = signer.sign(_payment(nonce, value=VALUE))
    proxy.inject(fault, forward=forward)
    result = send_raw(via_proxy, signed)
    assert (result.outcome, result.txid) == (outcome, signed.txid)
    assert proxy.sends_forwarded == int(forward)
    resolved = resolve_unclear(evm_chain, signed)
    deadline = time.monotonic() + 10
    while resolved is not None and resolved.status is TxStatus.PENDING and time.monotonic() < deadline:
        time.sleep(0.05)  # anvil's automine seals the block just after it accepts the transaction
        resolved = resolve_unclear(evm_chain, signed)
    assert (resolved.status if resolved else None) is found
    assert _paid_times(anvil, sender, nonce, balance) == int(forward)
    if resolved is None:
        # Unresolved: nothing paid, the nonce is still ours. Re-sending the SAME bytes is the only move.
        assert send_raw(via_proxy, signed).outcome is A
    else:
        # Mined: re-sending the same bytes is harmless and the caller can see why.
        assert send_raw(via_proxy, signed).outcome is U
    assert _paid_times(anvil, sender, nonce, balance) == 1


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_resend_after_already_known_is_not_a_second_payment(
    evm_snapshot, evm_chain, signer, proxy, via_proxy
):
    anvil, sender = evm_snapshot, signer.address(0)
    anvil.set_automine(False)
    nonce, balance = _nonce(anvil, sender), anvil.balance(RECIPIENT)
    signed = signer.sign(_payment(nonce, value=VALUE))
    proxy.inject(Fault.ALREADY_KNOWN, forward=True)
    assert send_raw(via_proxy, signed).outcome is K
    assert resolve_unclear(evm_chain, signed).status is TxStatus.PENDING
    for _ in range(3):
        assert send_raw(via_proxy, signed).outcome is K  # the real node's own answer now
    anvil.mine(2)
    assert resolve_unclear(evm_chain, signed).status is TxStatus.SUCCESS
    assert _paid_times(anvil, sender, nonce, balance) == 1


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_slow_node_within_the_timeout_is_just_accepted(evm_snapshot, evm_chain, signer, proxy, via_proxy):
    anvil, sender = evm_snapshot, signer.address(0)
    nonce, balance = _nonce(anvil, sender), anvil.balance(RECIPIENT)
    signed = signer.sign(_payment(nonce, value=VALUE))
    proxy.inject(Fault.SLOW, delay=0.2)
    assert send_raw(via_proxy, signed).outcome is A
    anvil.wait_receipt(signed.txid)  # anvil seals the block asynchronously, even on automine
    assert resolve_unclear(evm_chain, signed).status is TxStatus.SUCCESS
    assert _paid_times(anvil, sender, nonce, balance) == 1


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_too_slow_node_can_deliver_after_the_client_gave_up(
    evm_snapshot, evm_chain, signer, proxy, via_proxy
):
    # Why "unknown" after a timeout never licenses a re-sign with a new nonce: the bytes can still arrive.
    anvil, sender = evm_snapshot, signer.address(0)
    nonce, balance = _nonce(anvil, sender), anvil.balance(RECIPIENT)
    signed = signer.sign(_payment(nonce, value=VALUE))
    proxy.inject(Fault.SLOW, delay=1.5)
    assert send_raw(via_proxy, signed).outcome is U
    assert resolve_unclear(evm_chain, signed) is None
    deadline = time.monotonic() + 10
    while resolve_unclear(evm_chain, signed) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert resolve_unclear(evm_chain, signed).status is TxStatus.SUCCESS
    assert _paid_times(anvil, sender, nonce, balance) == 1
