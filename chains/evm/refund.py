"""The transactions of an EVM refund: calldata, gas and fee policy, fee bumps, and judging what a refund did.

Builders are pure: the nonce comes from the caller's database and the fees from the fee policy, so the same
inputs always give the same transaction. A refund is judged by its receipt AND the balances it moved, never by
a token's return value (USDT-style tokens return nothing, fee-on-transfer tokens deliver less).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Protocol

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from chains.base import ChainError, Receipt, Standard, TxStatus
from chains.evm.rpc import JsonRpc, RpcError
from chains.evm.signer import EvmUnsigned, Fees

ERC20_TRANSFER = keccak(text="transfer(address,uint256)")[:4]
ERC721_SAFE_TRANSFER_FROM = keccak(text="safeTransferFrom(address,address,uint256)")[:4]
ERC1155_SAFE_TRANSFER_FROM = keccak(text="safeTransferFrom(address,address,uint256,uint256,bytes)")[:4]
DISPERSE_ETHER = keccak(text="disperseEther(address[],uint256[])")[:4]  # contracts/GasDisperse.sol
NATIVE_TRANSFER_GAS = 21_000  # intrinsic gas of a plain value transfer to an account without code
# Estimates are taken at the current state; a token's storage can change before the refund is mined.
GAS_MARGIN_PERCENT = 20
# A storage slot written from zero (20,000) on a cold account (2,100): what a transfer costs more when its
# recipient's balance has dropped to zero between the estimate and the block that mines it.
FRESH_SLOT_GAS = 22_100
MIN_BUMP = Fraction(11, 10)  # geth and most pools refuse a same-nonce replacement below +10% on both fees
DEFAULT_BUMP = Fraction(5, 4)


class RefundWouldRevert(ChainError):
    """eth_estimateGas says the refund reverts now (a paused or reverting token, a missing balance)."""


# --- what each refund transaction does -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """The target, native value and calldata of a transaction, before gas, fees and nonce are chosen."""

    to: str
    value: int = 0
    data: bytes = b""

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("a call cannot send a negative value")


def native_transfer(to: str, value: int) -> Call:
    return Call(to=to_checksum_address(to), value=value)


def gas_top_up(deposit_address: str, needed_wei: int) -> Call:
    """From the gas wallet: just the native coin a deposit address lacks to pay its refund's gas."""
    if needed_wei <= 0:
        raise ValueError("a gas top-up must send a positive amount")
    return native_transfer(deposit_address, needed_wei)


def gas_top_up_batch(disperse_contract: str, top_ups: Sequence[tuple[str, int]]) -> Call:
    """From the gas wallet: one disperseEther call that funds every (deposit address, wei) pair at once."""
    if not top_ups:
        raise ValueError("a top-up batch needs at least one deposit address")
    if any(amount <= 0 for _, amount in top_ups):
        raise ValueError("a gas top-up must send a positive amount")
    recipients = [to_checksum_address(address) for address, _ in top_ups]  # one may appear twice: paid twice
    amounts = [amount for _, amount in top_ups]
    data = DISPERSE_ETHER + encode(["address[]", "uint256[]"], [recipients, amounts])
    return Call(to=to_checksum_address(disperse_contract), value=sum(amounts), data=data)


def erc20_transfer(contract: str, to: str, amount: int) -> Call:
    return Call(
        to=to_checksum_address(contract), data=ERC20_TRANSFER + encode(["address", "uint256"], [to, amount])
    )


def erc721_safe_transfer(contract: str, sender: str, to: str, token_id: int) -> Call:
    data = ERC721_SAFE_TRANSFER_FROM + encode(["address", "address", "uint256"], [sender, to, token_id])
    return Call(to=to_checksum_address(contract), data=data)


def erc1155_safe_transfer(contract: str, sender: str, to: str, token_id: int, amount: int) -> Call:
    args = encode(["address", "address", "uint256", "uint256", "bytes"], [sender, to, token_id, amount, b""])
    return Call(to=to_checksum_address(contract), data=ERC1155_SAFE_TRANSFER_FROM + args)


def unsigned_tx(
    call: Call, *, key: int | str, nonce: int, gas: int, fees: Fees, chain_id: int
) -> EvmUnsigned:
    """The transaction to sign: `key` is the deposit index that holds the funds, or GAS_WALLET."""
    return EvmUnsigned(
        key=key,
        chain_id=chain_id,
        nonce=nonce,
        to=call.to,
        value=call.value,
        gas=gas,
        fees=fees,
        data=call.data,
    )


# --- gas -----------------------------------------------------------------------------------------


def estimate_refund_gas(
    rpc: JsonRpc, sender: str, call: Call, *, margin_percent: int = GAS_MARGIN_PERCENT
) -> int:
    """eth_estimateGas plus a margin (20%, and at least a fresh storage slot's gas: the state the estimate
    saw can change before the refund is mined); a plain native transfer gets exactly its intrinsic gas."""
    request = {"from": sender, "to": call.to, "value": hex(call.value), "data": "0x" + call.data.hex()}
    try:
        estimate = int(rpc.call("eth_estimateGas", [request]), 16)
    except RpcError as exc:
        raise RefundWouldRevert(f"{call.to}: {exc.message}") from exc
    if estimate == NATIVE_TRANSFER_GAS and not call.data:
        return estimate  # an account without code uses exactly this; a margin would only strand coin
    return estimate + max(math.ceil(estimate * margin_percent / 100), FRESH_SLOT_GAS)


def top_up_needed(balance: int, gas: int, max_fee_per_gas: int, value: int = 0) -> int:
    """Wei a deposit address lacks to send `value` with `gas` at the fee cap (0 when it has enough)."""
    return max(0, gas * max_fee_per_gas + value - balance)


# --- fee policy ----------------------------------------------------------------------------------


def eip1559_fees(base_fee: int, priority_fee: int) -> Fees:
    """Max fee = 2 x base fee + priority: stays valid through six consecutive full blocks (+12.5% each)."""
    return Fees(max_fee_per_gas=2 * base_fee + priority_fee, max_priority_fee_per_gas=priority_fee)


def legacy_fees(gas_price: int) -> Fees:
    return Fees(gas_price=gas_price)


def current_fees(rpc: JsonRpc, *, eip1559: bool, priority_fee: int | None = None) -> Fees:
    """The fee policy applied to the node's current base fee, suggested tip or gas price."""
    if not eip1559:
        return legacy_fees(int(rpc.call("eth_gasPrice"), 16))
    block = rpc.call("eth_getBlockByNumber", ["latest", False])
    base_fee = int(block["baseFeePerGas"], 16)
    if priority_fee is None:
        priority_fee = int(rpc.call("eth_maxPriorityFeePerGas"), 16)
    return eip1559_fees(base_fee, priority_fee)


def bump_fees(
    previous: EvmUnsigned, factor: Fraction | int = DEFAULT_BUMP, *, floor: Fees | None = None
) -> EvmUnsigned:
    """A same-nonce replacement with every fee raised by `factor` (at least +10% and +1 wei).

    `floor` lifts the fees to the current policy when the base fee has outgrown the bump. The replacement
    can cost more than the original: a deposit address may need another top-up first.
    """
    factor = Fraction(factor)
    if factor < MIN_BUMP:
        raise ValueError(f"a replacement needs a factor of at least {MIN_BUMP} to be accepted by the pool")
    old = previous.fees

    def raised(value: int | None, minimum: int | None) -> int | None:
        if value is None:
            return None
        return max(math.ceil(value * factor), math.ceil(value * MIN_BUMP), value + 1, minimum or 0)

    if old.is_eip1559:
        floor_max = floor.max_fee_per_gas if floor and floor.is_eip1559 else None
        floor_tip = floor.max_priority_fee_per_gas if floor and floor.is_eip1559 else None
        max_fee = raised(old.max_fee_per_gas, floor_max)
        tip = raised(old.max_priority_fee_per_gas, floor_tip)
        fees = Fees(max_fee_per_gas=max(max_fee, tip), max_priority_fee_per_gas=tip)  # type: ignore[type-var]
    else:
        fees = Fees(gas_price=raised(old.gas_price, floor.per_gas_cap if floor else None))
    return replace(previous, fees=fees)


# --- judging what a refund did -------------------------------------------------------------------


class RefundVerdict(enum.StrEnum):
    PAID = "paid"  # mined, and the destination received the full amount
    PAID_SHORT = "paid_short"  # mined, the full amount left, the destination received less (token fee)
    FAILED = "failed"  # reverted, or mined without moving anything: nothing was paid
    PENDING = "pending"  # not mined yet
    UNKNOWN = "unknown"  # the node does not know the transaction
    MISMATCH = "mismatch"  # balances moved in a way the refund does not explain: a human looks


@dataclass(frozen=True, slots=True)
class RefundTransfer:
    """One sent refund: what should leave the deposit address for the destination, and in which tx."""

    txid: str
    standard: Standard
    deposit_address: str
    destination: str
    amount: int  # base units; 1 for an ERC-721
    contract: str | None = None
    token_id: int | None = None


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the deposit address and the destination hold of the refunded asset at one block."""

    deposit: int
    destination: int


@dataclass(frozen=True, slots=True)
class RefundEffect:
    verdict: RefundVerdict
    received: int  # what the destination gained
    sent: int  # what the deposit address lost, the gas fee excluded
    receipt: Receipt | None
    detail: str = ""


class BalanceSource(Protocol):
    """What judging a refund needs from a chain (EvmChain has both)."""

    def receipt(self, txid: str) -> Receipt | None: ...

    def token_balance(
        self, contract: str | None, holder: str, standard: Standard, token_id: int | None = None
    ) -> int: ...


def holdings(chain: BalanceSource, refund: RefundTransfer) -> Holdings:
    """Both sides' current balance of the refunded asset: take one before sending, one after the receipt."""

    def held(owner: str) -> int:
        return chain.token_balance(refund.contract, owner, refund.standard, refund.token_id)

    return Holdings(deposit=held(refund.deposit_address), destination=held(refund.destination))


def verify_refund_effect(
    chain: BalanceSource, refund: RefundTransfer, before: Holdings, after: Holdings
) -> RefundEffect:
    """Judge a refund by its receipt and by the balances it moved, never by a token's return value."""
    receipt = chain.receipt(refund.txid)
    if receipt is None:
        return RefundEffect(RefundVerdict.UNKNOWN, 0, 0, None, "the node does not know the transaction")
    if receipt.status is TxStatus.PENDING:
        return RefundEffect(RefundVerdict.PENDING, 0, 0, receipt)
    received = after.destination - before.destination
    sent = before.deposit - after.deposit
    if refund.standard is Standard.NATIVE:
        if receipt.fee_paid is None:
            return RefundEffect(
                RefundVerdict.MISMATCH, received, sent, receipt, "receipt without the fee paid"
            )
        sent -= receipt.fee_paid  # the deposit address paid its own gas in the same coin
    verdict, detail = _judge(refund.amount, receipt.status, received, sent)
    return RefundEffect(verdict, received, sent, receipt, detail)


def _judge(amount: int, status: TxStatus, received: int, sent: int) -> tuple[RefundVerdict, str]:
    if status is TxStatus.FAILED:
        if received or sent:
            return RefundVerdict.MISMATCH, "reverted, yet the balances moved"
        return RefundVerdict.FAILED, "reverted: nothing was paid"
    if received == 0 and sent == 0:
        return RefundVerdict.FAILED, "mined without moving the asset (a token that fails without reverting)"
    if sent != amount:
        return RefundVerdict.MISMATCH, f"the deposit address lost {sent}, the refund was for {amount}"
    if received == amount:
        return RefundVerdict.PAID, ""
    if 0 < received < amount:
        return RefundVerdict.PAID_SHORT, f"the token kept {amount - received} of {amount} in transfer fees"
    return RefundVerdict.MISMATCH, f"the destination gained {received}, the refund was for {amount}"
