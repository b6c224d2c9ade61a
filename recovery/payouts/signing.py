"""The one door money leaves through: every transaction our keys sign is signed here.

A refund's approved terms are checked again at the door, whatever was checked before: complete approvals
for the case's current terms, and the refund still paying exactly the approved destination and amount.
A refund may only be signed with the key of the deposit address it returns from; a gas top-up only with
the gas wallet's.
"""

from __future__ import annotations

from chains.base import SignedTx
from chains.bitcoin.signer import KeyChain, UnsignedBitcoinTx
from chains.evm.refund import EvmUnsigned
from chains.evm.signer import GAS_WALLET
from recovery.cases.workflow import approvals_complete
from recovery.models import Family, Network, RecoveryCase, Refund
from recovery.onchain.signers import bitcoin_signer, evm_signer


class RefundBlocked(Exception):
    """The refund must not be signed now; `human` says whether it waits for a person or just for time."""

    def __init__(self, reason: str, *, human: bool) -> None:
        super().__init__(reason)
        self.human = human


def refund_sign(refund: Refund, unsigned: EvmUnsigned | UnsignedBitcoinTx) -> SignedTx:
    """Sign a refund's transaction (the first one or a same-nonce fee bump), after checking its terms."""
    case = RecoveryCase.objects.get(pk=refund.case_id)
    if not approvals_complete(case):
        raise RefundBlocked("the approvals are not complete for the current terms", human=True)
    if (case.refund_destination, case.refund_amount) != (refund.destination, refund.amount):
        raise RefundBlocked("the refund no longer matches the approved destination and amount", human=True)
    if refund.network.family == Family.EVM:
        if unsigned.key != refund.key_index:
            raise RefundBlocked("a refund is signed only with its deposit address's key", human=True)
        return evm_signer().sign(unsigned)
    if any(i.key != KeyChain.DEPOSIT or i.key_index != refund.key_index for i in unsigned.inputs):
        raise RefundBlocked("a plain Bitcoin return spends only its own deposit output", human=True)
    return bitcoin_signer(refund.network.slug).sign(unsigned)


def gas_top_up_sign(network: Network, unsigned: EvmUnsigned) -> SignedTx:
    """Sign a gas-wallet transaction (a top-up or a batch of them): only with the gas wallet's key."""
    if network.family != Family.EVM or unsigned.key != GAS_WALLET:
        raise ValueError("a gas top-up is signed only with the gas wallet's key on an EVM network")
    return evm_signer().sign(unsigned)
