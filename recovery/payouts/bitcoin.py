"""Bitcoin refunds: a plain BTC return of the deposit output, signed under the row lock, stored, then sent.

Token returns (inscriptions, Runes, Omni) are built by chains/bitcoin/refund.py but need a UTXO from the fee
wallet, which this system does not track yet: such refunds go to a human (needs_review).
"""

from __future__ import annotations

from dataclasses import dataclass

from chains.base import SignedTx
from chains.bitcoin.chain import BitcoinChain
from chains.bitcoin.network import network_by_name
from chains.bitcoin.refund import RefundRefused, build_btc_return
from chains.bitcoin.signer import KeyChain, SpendInput, UnsignedBitcoinTx
from recovery.models import Network, Refund
from recovery.onchain.signers import bitcoin_signer
from recovery.payouts.attempts import attempt_record
from recovery.payouts.failpoints import failpoint
from recovery.payouts.signing import RefundBlocked, refund_sign


@dataclass(frozen=True)
class Plan:
    fee_rate: int  # sat/vB


def refund_plan(refund: Refund, chain: BitcoinChain, network: Network) -> Plan:
    if refund.deposit.tokens:
        raise RefundBlocked(
            "a Bitcoin token return needs a fee-wallet UTXO, which is not tracked yet: build it by hand "
            "with chains/bitcoin/refund.py",
            human=True,
        )
    return Plan(chain.fee_rate())


def funding_ready(refund: Refund, chain: BitcoinChain, network: Network, plan: Plan) -> bool:
    """A plain return pays its fee out of the deposit: nothing to fund first."""
    return True


def refund_sign_locked(refund: Refund, chain: BitcoinChain, network: Network, plan: Plan) -> SignedTx:
    signer = bitcoin_signer(network.slug)
    deposit = SpendInput(
        txid=refund.deposit.txid,
        vout=refund.deposit.index,
        value=refund.deposit.amount,
        script_pubkey=signer.script(KeyChain.DEPOSIT, refund.key_index),
        key=KeyChain.DEPOSIT,
        key_index=refund.key_index,
    )
    if signer.address(refund.key_index) != refund.sender:
        raise RefundBlocked(f"key index {refund.key_index} does not derive {refund.sender}", human=True)
    try:
        unsigned = build_btc_return(
            network=network_by_name(network.slug),
            deposit=deposit,
            destination=refund.destination,
            fee_rate=plan.fee_rate,
            amount=int(refund.amount),
        )
    except RefundRefused as refused:
        raise RefundBlocked(str(refused), human=True) from refused
    signed = refund_sign(refund, unsigned)
    failpoint("after_sign", refund.pk)
    attempt_store(refund, signed, unsigned)
    return signed


def attempt_store(refund: Refund, signed: SignedTx, unsigned: UnsignedBitcoinTx) -> None:
    fields = {"fee": unsigned.fee, "vsize": unsigned.vsize_estimate, "purpose": unsigned.purpose}
    attempt_record(refund, signed, fee_cap=unsigned.fee, unsigned=fields)


def received_amount(chain: BitcoinChain, refund: Refund) -> int:
    lookup = chain.lookup_tx(refund.tx_hash, watched={refund.destination})
    return sum(t.amount for t in lookup.transfers if t.recipient == refund.destination)
