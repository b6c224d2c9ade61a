"""EVM refunds: what to send, the gas top-up, signing under the row lock, sending stored bytes, receipts."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from eth_utils import to_checksum_address

from chains.base import SignedTx
from chains.evm.chain import EvmChain
from chains.evm.refund import (
    Call,
    bump_fees,
    current_fees,
    erc20_transfer,
    erc721_safe_transfer,
    erc1155_safe_transfer,
    estimate_refund_gas,
    native_transfer,
    top_up_needed,
    unsigned_tx,
)
from chains.evm.signer import EvmUnsigned, Fees
from recovery.models import (
    GasTopUp,
    GasTopUpState,
    Network,
    Refund,
    RefundAttempt,
    RefundState,
    TokenStandard,
)
from recovery.payouts import gas_top_ups
from recovery.payouts.attempts import attempt_record
from recovery.payouts.failpoints import failpoint
from recovery.payouts.nonces import nonce_take
from recovery.payouts.signing import RefundBlocked, refund_sign

log = logging.getLogger(__name__)
NATIVE_GAS = 21_000


@dataclass(frozen=True)
class Plan:
    call: Call
    gas: int
    fees: Fees


def _refund_call(refund: Refund, value_for_native: int = 0) -> Call:
    token = refund.contract
    if refund.standard == TokenStandard.ERC20:
        return erc20_transfer(token, refund.destination, refund.amount)
    if refund.standard == TokenStandard.ERC721:
        return erc721_safe_transfer(token, refund.sender, refund.destination, refund.token_id)
    if refund.standard == TokenStandard.ERC1155:
        return erc1155_safe_transfer(token, refund.sender, refund.destination, refund.token_id, refund.amount)
    return native_transfer(refund.destination, value_for_native)


def refund_plan(refund: Refund, chain: EvmChain, network: Network) -> Plan:
    """The call, gas and fees. A native refund pays its own gas out of the refunded amount."""
    fees = current_fees(chain.rpc, eip1559=bool((network.options or {}).get("eip1559", True)))
    if refund.standard == TokenStandard.NATIVE:
        value = refund.amount - NATIVE_GAS * fees.per_gas_cap
        if value <= 0:
            raise RefundBlocked("the native amount does not cover the gas of returning it", human=True)
        return Plan(native_transfer(refund.destination, value), NATIVE_GAS, fees)
    call = _refund_call(refund)
    return Plan(call, estimate_refund_gas(chain.rpc, refund.sender, call), fees)


# --- gas top-up ----------------------------------------------------------------------------------


def funding_ready(refund: Refund, chain: EvmChain, network: Network, plan: Plan) -> bool:
    """True when the deposit address can pay the refund (its gas, and a native refund's value too); else
    files, batches or follows its top-up. A native refund pays its gas out of its own amount, so it needs
    one only when the address's other refunds spent part of that amount on their gas."""
    return _funded(refund, chain, network, cost=plan.gas * plan.fees.per_gas_cap + plan.call.value)


def signed_funding_ready(refund: Refund, chain: EvmChain, network: Network) -> bool:
    """After the node refused a signed refund for funds: True when the address can pay its stored bytes
    again (send them), else files, batches or follows another top-up for what it lacks."""
    attempt = refund.attempt_rows.order_by("-number").first()
    value = int((attempt.unsigned or {}).get("value") or 0)
    return _funded(refund, chain, network, cost=int(attempt.fee_cap or 0) + value)


def _funded(refund: Refund, chain: EvmChain, network: Network, *, cost: int) -> bool:
    """Can the address spend `cost` (the most the refund's transaction may take) beside what its other
    open refunds will still spend? If not, file, batch or follow a top-up for what it lacks."""
    balance, mined = chain.account_state(refund.sender)
    need = top_up_needed(balance, 1, cost, value=_reserved(refund, mined))
    top_up = gas_top_ups.refund_top_up(refund)
    try:
        if need == 0:
            if top_up is not None:
                gas_top_ups.top_up_unneeded(top_up, chain)
            return True
        _native_shortfall_check(refund, need)
        if top_up is None or top_up.state in (GasTopUpState.CONFIRMED, GasTopUpState.CANCELLED):
            # None yet, or fees rose past what the last one covered: another, for what is lacking now.
            _top_ups_limit_check(refund)
            top_up = gas_top_ups.top_up_request(refund, network, chain, need, balance)
    except gas_top_ups.TopUpBlocked as blocked:
        raise RefundBlocked(str(blocked), human=blocked.human) from blocked
    return _top_up_follow(top_up, network, chain)


def _top_ups_limit_check(refund: Refund) -> None:
    """Fees that keep rising get a few more top-ups, not an endless stream of them."""
    funded = refund.top_ups.filter(state=GasTopUpState.CONFIRMED).count()
    if funded >= settings.GAS_TOP_UPS_PER_REFUND_MAX:
        raise RefundBlocked(
            f"{funded} gas top-ups confirmed and fees still outgrow them: a person decides", human=True
        )


def _native_shortfall_check(refund: Refund, need: int) -> None:
    """The gas wallet may make good the gas that other refunds took out of a native deposit, never the
    deposit itself: lacking more than half of it, the address was emptied by someone, and a person looks."""
    if refund.standard == TokenStandard.NATIVE and need * 2 > refund.amount:
        raise RefundBlocked(
            f"the deposit address lacks {need} of the {refund.amount} wei it returns: was it swept?",
            human=True,
        )


def open_top_up_settle(refund: Refund, chain: EvmChain) -> None:
    """Once the refund is sent, a top-up still open for it is followed to its end (or cancelled)."""
    top_up = gas_top_ups.refund_top_up(refund)
    if top_up is not None and top_up.state in (GasTopUpState.PENDING, GasTopUpState.BATCHED):
        gas_top_ups.top_up_unneeded(top_up, chain)


def _top_up_follow(top_up: GasTopUp, network: Network, chain: EvmChain) -> bool:
    """Batch a pending top-up when its window is over and follow its batch; False: still waiting."""
    try:
        if top_up.state == GasTopUpState.PENDING and gas_top_ups.batch_due(top_up):
            gas_top_ups.batches_sign(network, chain, batchable=top_up.batchable)
            top_up = GasTopUp.objects.select_related("batch").get(pk=top_up.pk)
        if top_up.batch is not None:
            gas_top_ups.batch_follow(top_up.batch, chain)
    except gas_top_ups.TopUpBlocked as blocked:
        raise RefundBlocked(str(blocked), human=blocked.human) from blocked
    return False


def _reserved(refund: Refund, mined: int) -> int:
    """Wei of the address's balance the other open refunds from it will still spend: each signed one its
    current attempt's fee cap, each native one (signed or not) its whole amount. Those already mined (a
    nonce below `mined`, the account's next nonce at the block the balance was read) have spent theirs.
    What this refund can count on is what is left after them."""
    siblings = (
        Refund.objects.filter(
            network_id=refund.network_id,
            sender=refund.sender,
            state__in=[RefundState.QUEUED, RefundState.SIGNED, RefundState.BROADCAST],
        )
        .exclude(pk=refund.pk)
        .exclude(nonce__lt=mined)
    )
    native = siblings.filter(standard=TokenStandard.NATIVE)
    owed = sum(int(amount) for amount in native.values_list("amount", flat=True))
    signed_tokens = siblings.exclude(standard=TokenStandard.NATIVE).exclude(state=RefundState.QUEUED)
    caps = RefundAttempt.objects.filter(refund__in=signed_tokens, number=F("refund__attempts"))
    return owed + sum(int(cap or 0) for cap in caps.values_list("fee_cap", flat=True))


# --- signing -------------------------------------------------------------------------------------


def refund_sign_locked(refund: Refund, chain: EvmChain, network: Network, plan: Plan) -> SignedTx:
    """Take the nonce, sign and store the bytes; called with the refund row locked, in its transaction."""
    nonce = nonce_take(network=network, address=refund.sender, chain_nonce=lambda: chain.nonce(refund.sender))
    unsigned = unsigned_tx(
        plan.call, key=refund.key_index, nonce=nonce, gas=plan.gas, fees=plan.fees, chain_id=network.chain_id
    )
    signed = refund_sign(refund, unsigned)
    if signed.sender != refund.sender:
        raise RefundBlocked(f"key index {refund.key_index} does not derive {refund.sender}", human=True)
    failpoint("after_sign", refund.pk)
    attempt_store(refund, signed, unsigned)
    return signed


def attempt_store(refund: Refund, signed: SignedTx, unsigned: EvmUnsigned) -> None:
    attempt_record(refund, signed, fee_cap=unsigned.fee_cap, unsigned=_unsigned_to_json(unsigned))


def _unsigned_to_json(unsigned: EvmUnsigned) -> dict:
    fees = unsigned.fees
    return {
        "key": unsigned.key,
        "chain_id": unsigned.chain_id,
        "nonce": unsigned.nonce,
        "to": unsigned.to,
        "value": str(unsigned.value),
        "gas": unsigned.gas,
        "max_fee_per_gas": None if fees.max_fee_per_gas is None else str(fees.max_fee_per_gas),
        "max_priority_fee_per_gas": None
        if fees.max_priority_fee_per_gas is None
        else str(fees.max_priority_fee_per_gas),
        "gas_price": None if fees.gas_price is None else str(fees.gas_price),
        "data": unsigned.data.hex(),
    }


def _unsigned_from_json(fields: dict) -> EvmUnsigned:
    def number(name: str) -> int | None:
        return None if fields.get(name) is None else int(fields[name])

    return EvmUnsigned(
        key=fields["key"],
        chain_id=fields["chain_id"],
        nonce=fields["nonce"],
        to=fields["to"],
        value=int(fields["value"]),
        gas=fields["gas"],
        fees=Fees(
            max_fee_per_gas=number("max_fee_per_gas"),
            max_priority_fee_per_gas=number("max_priority_fee_per_gas"),
            gas_price=number("gas_price"),
        ),
        data=bytes.fromhex(fields["data"]),
    )


def refund_bump_locked(refund: Refund, chain: EvmChain, network: Network) -> SignedTx:
    """A same-nonce replacement with higher fees, stored as a new attempt before it is sent."""
    last = refund.attempt_rows.order_by("-number").first()
    previous = _unsigned_from_json(last.unsigned)
    floor = current_fees(chain.rpc, eip1559=previous.fees.is_eip1559)
    bumped = bump_fees(previous, floor=floor)
    if refund.standard == TokenStandard.NATIVE:  # a native refund pays its gas out of the amount
        value = refund.amount - bumped.gas * bumped.fees.per_gas_cap
        if value <= 0:
            raise RefundBlocked("a fee bump would cost more than the native amount", human=True)
        bumped = dataclasses.replace(bumped, value=value)
    signed = refund_sign(refund, bumped)
    attempt_store(refund, signed, bumped)
    return signed


def refund_cancel_locked(refund: Refund, chain: EvmChain, network: Network) -> SignedTx:
    """The refund's nonce spent on a no-op (no coin, to the address itself) instead of the payment, with
    fees that also replace the payment's bytes should a node hold them: stored as a new attempt."""
    last = refund.attempt_rows.order_by("-number").first()
    previous = _unsigned_from_json(last.unsigned)
    floor = current_fees(chain.rpc, eip1559=previous.fees.is_eip1559)
    noop = dataclasses.replace(
        previous, to=to_checksum_address(refund.sender), value=0, data=b"", gas=NATIVE_GAS
    )
    cancel = bump_fees(noop, floor=floor)
    signed = refund_sign(refund, cancel)
    attempt_store(refund, signed, cancel)
    return signed


def is_cancel(attempt: RefundAttempt | None) -> bool:
    """A no-op attempt: no coin and no call, to the sending address itself."""
    if attempt is None or not attempt.unsigned:
        return False
    fields = attempt.unsigned
    to = str(fields.get("to", "")).lower()
    return (
        to == attempt.refund.sender.lower() and int(fields.get("value") or 0) == 0 and not fields.get("data")
    )


def received_amount(chain: EvmChain, refund: Refund) -> int:
    """What the destination received in the mined refund, read from the receipt's transfers to it."""
    lookup = chain.lookup_tx(refund.tx_hash, watched={refund.destination})
    moved = [
        t
        for t in lookup.transfers
        if t.recipient == refund.destination
        and (t.contract or "").lower() == (refund.contract or "").lower()
        and (refund.token_id is None or t.token_id == refund.token_id)
    ]
    return sum(t.amount for t in moved)


def bump_due(refund: Refund) -> bool:
    last = refund.attempt_rows.order_by("-number").first()
    waited = (timezone.now() - (last.created_at if last else refund.updated_at)).total_seconds()
    return waited >= settings.REFUND_BUMP_AFTER_SECONDS
