"""Refund transaction builders, gas and fee policy, fee bumps: pure functions checked against the specs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import pytest
from eth_abi import decode
from hypothesis import given
from hypothesis import strategies as st

from chains.base import BroadcastOutcome, Receipt, Standard, TxStatus
from chains.evm.broadcast import send_raw
from chains.evm.chain import EvmChain
from chains.evm.devnet import Anvil
from chains.evm.refund import (
    NATIVE_TRANSFER_GAS,
    Call,
    Holdings,
    RefundEffect,
    RefundTransfer,
    RefundVerdict,
    RefundWouldRevert,
    bump_fees,
    current_fees,
    eip1559_fees,
    erc20_transfer,
    erc721_safe_transfer,
    erc1155_safe_transfer,
    estimate_refund_gas,
    gas_top_up,
    gas_top_up_batch,
    holdings,
    legacy_fees,
    native_transfer,
    top_up_needed,
    unsigned_tx,
    verify_refund_effect,
)
from chains.evm.signer import GAS_WALLET, EvmUnsigned, Fees, LocalHDSigner
from tests.fixtures_anvil import FEE_TOKEN_BPS

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
FROM = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
TO = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def word(value: int | str) -> str:
    """One 32-byte ABI word in hex: an address or uint256, left-padded."""
    if isinstance(value, str):
        return value[2:].lower().rjust(64, "0")
    return format(value, "064x")


def test_erc20_transfer_calldata_is_selector_a9059cbb_and_two_words():
    call = erc20_transfer(TOKEN.lower(), TO, 10**18)
    assert call == Call(to=TOKEN, value=0, data=bytes.fromhex("a9059cbb" + word(TO) + word(10**18)))


def test_erc721_safe_transfer_calldata_is_selector_42842e0e():
    call = erc721_safe_transfer(TOKEN, FROM, TO, 7)
    assert call.data.hex() == "42842e0e" + word(FROM) + word(TO) + word(7)
    assert (call.to, call.value) == (TOKEN, 0)


def test_erc1155_safe_transfer_calldata_has_empty_bytes_tail():
    call = erc1155_safe_transfer(TOKEN, FROM, TO, 3, 25)
    # five head words; the bytes argument is an offset (5 x 32 = 0xa0) to a zero length word
    expected = "f242432a" + word(FROM) + word(TO) + word(3) + word(25) + word(0xA0) + word(0)
    assert call.data.hex() == expected


def test_native_transfer_and_top_up_carry_value_only():
    assert native_transfer(TO.lower(), 5) == Call(to=TO, value=5, data=b"")
    assert gas_top_up(TO, 1234) == Call(to=TO, value=1234, data=b"")


@pytest.mark.parametrize("needed", [0, -1])
def test_gas_top_up_refuses_nothing_to_send(needed):
    with pytest.raises(ValueError):
        gas_top_up(TO, needed)


def test_a_top_up_batch_is_disperse_ether_with_the_sum_as_value():
    call = gas_top_up_batch(TOKEN.lower(), [(TO, 5), (FROM.lower(), 7)])
    # selector of disperseEther(address[],uint256[]), two offsets, then each array as length + items
    head = "e63d38ed" + word(0x40) + word(0xA0)
    assert call.data.hex() == head + word(2) + word(TO) + word(FROM) + word(2) + word(5) + word(7)
    assert (call.to, call.value) == (TOKEN, 12)


@given(st.lists(st.integers(min_value=1, max_value=2**200), min_size=1, max_size=20))
def test_a_top_up_batch_sends_exactly_what_its_top_ups_add_up_to(amounts):
    top_ups = [(f"0x{n + 1:040x}", amount) for n, amount in enumerate(amounts)]
    call = gas_top_up_batch(TOKEN, top_ups)
    recipients, values = decode(["address[]", "uint256[]"], call.data[4:])
    assert call.value == sum(values) == sum(amounts)
    assert [r.lower() for r in recipients] == [a for a, _ in top_ups] and list(values) == amounts


@pytest.mark.parametrize("top_ups", [[], [(TO, 0)], [(TO, 5), (FROM, -1)]])
def test_a_top_up_batch_refuses_nothing_or_nonpositive_amounts(top_ups):
    with pytest.raises(ValueError):
        gas_top_up_batch(TOKEN, top_ups)


def test_unsigned_tx_takes_nonce_fees_and_key_from_the_caller():
    fees = Fees(gas_price=7)
    tx = unsigned_tx(gas_top_up(TO, 99), key=GAS_WALLET, nonce=4, gas=21_000, fees=fees, chain_id=56)
    assert (tx.key, tx.nonce, tx.gas, tx.fees, tx.chain_id, tx.to, tx.value) == (
        GAS_WALLET,
        4,
        21_000,
        fees,
        56,
        TO,
        99,
    )
    assert tx.fee_cap == 21_000 * 7


@pytest.mark.parametrize(
    ("balance", "gas", "fee", "value", "expected"),
    [
        (0, 21_000, 10, 0, 210_000),
        (10_000, 21_000, 10, 0, 200_000),
        (210_000, 21_000, 10, 0, 0),
        (10**18, 21_000, 10, 0, 0),
        (100, 21_000, 10, 50, 209_950),
    ],
)
def test_top_up_needed_is_the_missing_part_of_the_fee_cap(balance, gas, fee, value, expected):
    assert top_up_needed(balance, gas, fee, value) == expected


def test_eip1559_policy_is_twice_the_base_fee_plus_the_tip():
    assert eip1559_fees(30 * 10**9, 2 * 10**9) == Fees(
        max_fee_per_gas=62 * 10**9, max_priority_fee_per_gas=2 * 10**9
    )
    assert legacy_fees(5 * 10**9) == Fees(gas_price=5 * 10**9)


def _stuck(fees: Fees):
    return unsigned_tx(erc20_transfer(TOKEN, TO, 1), key=3, nonce=9, gas=60_000, fees=fees, chain_id=1)


@given(
    max_fee=st.integers(min_value=0, max_value=10**15),
    tip_share=st.integers(min_value=0, max_value=100),
    factor=st.fractions(min_value=Fraction(11, 10), max_value=Fraction(3)),
)
def test_bump_raises_both_eip1559_fees_by_at_least_ten_percent(max_fee, tip_share, factor):
    tip = max_fee * tip_share // 100
    old = _stuck(Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip))
    new = bump_fees(old, factor)
    # geth's rule: the replacement must be strictly higher and >= old * 110 / 100 on both fields
    for before, after in [
        (max_fee, new.fees.max_fee_per_gas),
        (tip, new.fees.max_priority_fee_per_gas),
    ]:
        assert after > before
        assert after * 100 >= before * 110
        assert after >= before * factor
    assert (new.nonce, new.key, new.to, new.value, new.data, new.gas, new.chain_id) == (
        old.nonce,
        old.key,
        old.to,
        old.value,
        old.data,
        old.gas,
        old.chain_id,
    )


def test_bump_legacy_gas_price_and_lift_to_floor():
    old = _stuck(Fees(gas_price=100))
    assert bump_fees(old, Fraction(5, 4)).fees == Fees(gas_price=125)
    assert bump_fees(old, Fraction(5, 4), floor=Fees(gas_price=400)).fees == Fees(gas_price=400)


def test_bump_follows_a_risen_base_fee():
    old = _stuck(Fees(max_fee_per_gas=100, max_priority_fee_per_gas=10))
    bumped = bump_fees(old, Fraction(5, 4), floor=Fees(max_fee_per_gas=1_000, max_priority_fee_per_gas=11))
    assert bumped.fees == Fees(max_fee_per_gas=1_000, max_priority_fee_per_gas=13)


def test_bump_below_ten_percent_is_refused():
    with pytest.raises(ValueError):
        bump_fees(_stuck(Fees(gas_price=100)), Fraction(105, 100))


# --- full refunds on a real anvil ---------------------------------------------------------------

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
DEPOSIT_INDEX = 1000  # a fresh address: it holds no coin until the gas wallet tops it up
CHAIN_ID = 31337


@pytest.fixture(scope="module")
def signer() -> LocalHDSigner:
    return LocalHDSigner(ANVIL_MNEMONIC)


@dataclass
class Refunder:
    """Drives one refund the way the worker will: top up, sign, send, wait, judge."""

    anvil: Anvil
    chain: EvmChain
    signer: LocalHDSigner

    @property
    def deposit(self) -> str:
        return self.signer.address(DEPOSIT_INDEX)

    def nonce(self, address: str) -> int:
        return int(self.anvil.rpc.call("eth_getTransactionCount", [address, "pending"]), 16)

    def send(self, unsigned: EvmUnsigned) -> dict:
        signed = self.signer.sign(unsigned)
        assert send_raw(self.anvil.rpc, signed).outcome is BroadcastOutcome.ACCEPTED
        return self.anvil.wait_receipt(signed.txid)

    def top_up_and_sign(self, call: Call, gas: int) -> tuple[EvmUnsigned, int]:
        """Top the deposit address up for `gas` at the policy fees; returns the refund and the top-up."""
        fees = current_fees(self.anvil.rpc, eip1559=True)
        needed = top_up_needed(self.anvil.balance(self.deposit), gas, fees.max_fee_per_gas, call.value)
        if needed:
            top_up = unsigned_tx(
                gas_top_up(self.deposit, needed),
                key=GAS_WALLET,
                nonce=self.nonce(self.signer.gas_wallet_address()),
                gas=NATIVE_TRANSFER_GAS,
                fees=fees,
                chain_id=CHAIN_ID,
            )
            assert self.send(top_up)["status"] == "0x1"
        refund = unsigned_tx(
            call, key=DEPOSIT_INDEX, nonce=self.nonce(self.deposit), gas=gas, fees=fees, chain_id=CHAIN_ID
        )
        return refund, needed

    def refund(self, call: Call, transfer: RefundTransfer, gas: int | None = None) -> RefundEffect:
        gas = gas or estimate_refund_gas(self.anvil.rpc, self.deposit, call)
        unsigned, _ = self.top_up_and_sign(call, gas)
        before = holdings(self.chain, transfer)
        receipt = self.send(unsigned)
        txid = receipt["transactionHash"]
        return verify_refund_effect(
            self.chain, replace(transfer, txid=txid), before, holdings(self.chain, transfer)
        )


@pytest.fixture
def refunder(evm_snapshot, evm_chain, signer) -> Refunder:
    evm_snapshot.set_balance(signer.gas_wallet_address(), 10**18)
    return Refunder(evm_snapshot, evm_chain, signer)


def _erc20_case(anvil: Anvil, contract, refunder: Refunder, amount: int) -> tuple[str, RefundTransfer]:
    user = anvil.accounts[3]
    anvil.transact(contract, "mint", user, amount)
    anvil.transact(contract, "transfer", refunder.deposit, amount, sender=user)
    transfer = RefundTransfer("", Standard.ERC20, refunder.deposit, user, amount, contract.address)
    return user, transfer


@pytest.mark.anvil
@pytest.mark.timeout(60)
@pytest.mark.parametrize("token", ["TestToken", "NoReturnToken"])
def test_erc20_refund_returns_every_unit_to_the_sender(refunder, evm_contracts, token):
    anvil, contract, amount = refunder.anvil, evm_contracts[token], 1_234_567
    user, transfer = _erc20_case(anvil, contract, refunder, amount)
    user_before = anvil.call(contract, "balanceOf", user)
    effect = refunder.refund(erc20_transfer(contract.address, user, amount), transfer)
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.PAID, amount, amount)
    assert anvil.call(contract, "balanceOf", user) == user_before + amount
    assert anvil.call(contract, "balanceOf", refunder.deposit) == 0


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_fee_on_transfer_refund_reports_what_arrived(refunder, evm_contracts):
    anvil, contract, amount = refunder.anvil, evm_contracts["FeeToken"], 10**18
    user = anvil.accounts[3]
    anvil.transact(contract, "mint", user, 2 * amount)
    anvil.transact(contract, "transfer", refunder.deposit, 2 * amount, sender=user)
    deposited = 2 * amount - 2 * amount * FEE_TOKEN_BPS // 10_000  # the token burnt its cut on the way in
    assert anvil.call(contract, "balanceOf", refunder.deposit) == deposited
    transfer = RefundTransfer("", Standard.ERC20, refunder.deposit, user, deposited, contract.address)
    effect = refunder.refund(erc20_transfer(contract.address, user, deposited), transfer)
    expected = deposited - deposited * FEE_TOKEN_BPS // 10_000
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.PAID_SHORT, expected, deposited)
    assert anvil.call(contract, "balanceOf", user) == expected


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_reverting_token_refund_is_judged_failed_and_pays_nothing(refunder, evm_contracts):
    anvil, contract, amount = refunder.anvil, evm_contracts["RevertingToken"], 500
    user = anvil.accounts[3]
    anvil.transact(contract, "mint", refunder.deposit, amount)  # it cannot be transferred in, only minted
    transfer = RefundTransfer("", Standard.ERC20, refunder.deposit, user, amount, contract.address)
    call = erc20_transfer(contract.address, user, amount)
    with pytest.raises(RefundWouldRevert):
        estimate_refund_gas(anvil.rpc, refunder.deposit, call)
    effect = refunder.refund(call, transfer, gas=100_000)  # sent anyway, to see it judged on chain
    assert effect.receipt is not None and effect.receipt.status is TxStatus.FAILED
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.FAILED, 0, 0)
    assert anvil.call(contract, "balanceOf", refunder.deposit) == amount
    assert anvil.call(contract, "balanceOf", user) == 0


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_erc721_refund_moves_ownership_back(refunder, evm_contracts):
    anvil, contract, token_id = refunder.anvil, evm_contracts["TestNFT"], 77
    user = anvil.accounts[4]
    anvil.transact(contract, "mint", user, token_id)
    anvil.transact(contract, "transferFrom", user, refunder.deposit, token_id, sender=user)
    assert anvil.call(contract, "ownerOf", token_id) == refunder.deposit.lower()
    transfer = RefundTransfer("", Standard.ERC721, refunder.deposit, user, 1, contract.address, token_id)
    call = erc721_safe_transfer(contract.address, refunder.deposit, user, token_id)
    effect = refunder.refund(call, transfer)
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.PAID, 1, 1)
    assert anvil.call(contract, "ownerOf", token_id) == user.lower()


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_erc1155_refund_returns_the_amount_of_the_id(refunder, evm_contracts):
    anvil, contract, token_id, amount = refunder.anvil, evm_contracts["TestMultiToken"], 5, 40
    user = anvil.accounts[4]
    anvil.transact(contract, "mint", user, token_id, amount)
    anvil.transact(contract, "safeTransferFrom", user, refunder.deposit, token_id, amount, b"", sender=user)
    transfer = RefundTransfer(
        "", Standard.ERC1155, refunder.deposit, user, amount, contract.address, token_id
    )
    call = erc1155_safe_transfer(contract.address, refunder.deposit, user, token_id, amount)
    effect = refunder.refund(call, transfer)
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.PAID, amount, amount)
    assert anvil.call(contract, "balanceOf", user, token_id) == amount
    assert anvil.call(contract, "balanceOf", refunder.deposit, token_id) == 0


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_native_refund_is_judged_net_of_its_own_gas(refunder):
    anvil, user, amount = refunder.anvil, refunder.anvil.accounts[5], 3 * 10**15
    anvil.send({"from": user, "to": refunder.deposit, "value": amount})
    transfer = RefundTransfer("", Standard.NATIVE, refunder.deposit, user, amount)
    effect = refunder.refund(native_transfer(user, amount), transfer)
    assert (effect.verdict, effect.received, effect.sent) == (RefundVerdict.PAID, amount, amount)


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_gas_top_up_covers_exactly_the_refund(refunder, evm_contracts):
    anvil, contract, amount = refunder.anvil, evm_contracts["TestToken"], 10**6
    user, _ = _erc20_case(anvil, contract, refunder, amount)
    call = erc20_transfer(contract.address, user, amount)
    gas = estimate_refund_gas(anvil.rpc, refunder.deposit, call)
    unsigned, topped_up = refunder.top_up_and_sign(call, gas)
    assert topped_up == unsigned.fee_cap  # the address held no coin: it received the whole fee cap
    receipt = refunder.send(unsigned)
    spent = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
    left = anvil.balance(refunder.deposit)
    assert left == topped_up - spent
    assert 0 <= left < unsigned.fee_cap  # within the fee estimate, never short
    # without the top-up the refund cannot pay for its gas
    assert top_up_needed(0, gas, unsigned.fees.max_fee_per_gas) == topped_up


@pytest.mark.anvil
@pytest.mark.timeout(60)
def test_fee_bump_replaces_a_stuck_refund_and_only_one_confirms(refunder):
    anvil, user = refunder.anvil, refunder.anvil.accounts[6]
    anvil.send({"from": user, "to": refunder.deposit, "value": 10**16})
    user_before = anvil.balance(user)
    call = native_transfer(user, 10**15)
    stuck, _ = refunder.top_up_and_sign(call, NATIVE_TRANSFER_GAS)
    anvil.set_automine(False)
    first = refunder.signer.sign(stuck)
    assert send_raw(anvil.rpc, first).outcome is BroadcastOutcome.ACCEPTED
    bumped = bump_fees(stuck)
    assert bumped.nonce == stuck.nonce
    second = refunder.signer.sign(bumped)
    assert send_raw(anvil.rpc, second).outcome is BroadcastOutcome.ACCEPTED
    anvil.mine(3)
    receipts = [refunder.chain.receipt(s.txid) for s in (first, second)]
    assert receipts[0] is None
    assert receipts[1] is not None and receipts[1].status is TxStatus.SUCCESS
    assert anvil.balance(user) == user_before + 10**15
    assert int(anvil.rpc.call("eth_getTransactionCount", [refunder.deposit, "latest"]), 16) == stuck.nonce + 1


# --- the judgement itself, for outcomes a well-behaved test token cannot produce ------------------


@dataclass
class RecordedChain:
    """A chain whose only knowledge is one receipt: enough to exercise the verdict table."""

    known: Receipt | None

    def receipt(self, txid: str) -> Receipt | None:
        return self.known

    def token_balance(self, contract, holder, standard, token_id=None) -> int:
        raise AssertionError("verify_refund_effect must judge from the holdings it is given")


def _mined(status: TxStatus, fee: int | None = 0) -> Receipt:
    return Receipt("0xabc", status, 10, "0xblock", 1, fee)


ERC20_REFUND = RefundTransfer("0xabc", Standard.ERC20, TO, FROM, 100, TOKEN)


@pytest.mark.parametrize(
    ("receipt", "before", "after", "verdict"),
    [
        (None, (100, 0), (100, 0), RefundVerdict.UNKNOWN),
        (Receipt("0xabc", TxStatus.PENDING, None, None, 0), (100, 0), (100, 0), RefundVerdict.PENDING),
        (_mined(TxStatus.SUCCESS), (100, 0), (100, 0), RefundVerdict.FAILED),  # returned false, no revert
        (_mined(TxStatus.SUCCESS), (100, 5), (0, 105), RefundVerdict.PAID),
        (_mined(TxStatus.SUCCESS), (100, 0), (0, 97), RefundVerdict.PAID_SHORT),
        (_mined(TxStatus.SUCCESS), (100, 0), (50, 50), RefundVerdict.MISMATCH),  # half left the address
        (_mined(TxStatus.SUCCESS), (100, 0), (0, 150), RefundVerdict.MISMATCH),  # more arrived than sent
        (_mined(TxStatus.FAILED), (100, 0), (0, 100), RefundVerdict.MISMATCH),  # reverted yet moved
    ],
)
def test_verdict_follows_receipt_and_balances(receipt, before, after, verdict):
    effect = verify_refund_effect(RecordedChain(receipt), ERC20_REFUND, Holdings(*before), Holdings(*after))
    assert effect.verdict is verdict
    assert effect.received == (after[1] - before[1] if receipt and receipt.block_number else 0)


def test_native_refund_without_a_known_fee_is_not_judged_paid():
    refund = replace(ERC20_REFUND, standard=Standard.NATIVE, contract=None)
    effect = verify_refund_effect(
        RecordedChain(_mined(TxStatus.SUCCESS, fee=None)), refund, Holdings(200, 0), Holdings(90, 100)
    )
    assert effect.verdict is RefundVerdict.MISMATCH


@pytest.mark.anvil
@pytest.mark.timeout(60)
@pytest.mark.parametrize("token", ["TestToken", "NoReturnToken"])
def test_the_gas_estimate_holds_when_the_recipient_empties_its_balance_before_the_refund(
    refunder, evm_contracts, token
):
    """Estimated while the sender still holds some of the token (its balance slot set), mined after it sent
    the rest: writing a zero slot costs about 17,000 gas more than the estimate saw."""
    anvil, contract, amount = refunder.anvil, evm_contracts[token], 10**6
    user, transfer = _erc20_case(anvil, contract, refunder, amount)
    anvil.transact(contract, "mint", user, 5)  # the user still holds 5 units when the refund is planned
    call = erc20_transfer(contract.address, user, amount)
    gas = estimate_refund_gas(anvil.rpc, refunder.deposit, call)
    anvil.transact(contract, "transfer", anvil.accounts[5], 5, sender=user)  # ... then sends them on

    effect = refunder.refund(call, transfer, gas=gas)

    assert effect.receipt is not None and effect.receipt.status is TxStatus.SUCCESS
    assert effect.received == amount
