"""A scanned anvil network with a funded gas wallet and one deposit address: the setting of payout tests."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.conf import settings

from chains.evm.chain import EvmChain
from chains.evm.signer import LocalHDSigner
from recovery.deposits.scanning import network_scan
from recovery.deposits.triage import Decision, deposit_triage
from recovery.deposits.watched import forget_watched
from recovery.models import (
    AssetPrice,
    Deposit,
    DepositAddress,
    Network,
    RecoveryCase,
    Refund,
    State,
    UserProfile,
)
from recovery.onchain.registry import chain_for, forget_chains
from recovery.payouts.execution import case_execute
from recovery.payouts.refunds import refund_advance

CONFIRMATIONS = 2
DEPOSIT_INDEX = 1000


@dataclass
class Payout:
    node: object
    network: Network
    contracts: dict
    users: object
    deposit_address: str
    user: str  # the anvil account that made the wrong deposit and gets it back

    @property
    def chain(self) -> EvmChain:
        return chain_for(self.network)

    def nonce(self, address: str) -> int:
        return int(self.node.rpc.call("eth_getTransactionCount", [address, "latest"]), 16)


@pytest.fixture
def payout(evm_snapshot, evm_contracts, users, settings):
    """Top-ups may go through the disperse contract, without waiting (tests of batching set a window)."""
    settings.GAS_TOP_UP_BATCH_WINDOW_SECONDS = 0
    forget_chains()
    forget_watched()
    node = evm_snapshot
    network = Network.objects.create(
        slug="anvil",
        name="Anvil",
        family="evm",
        chain_id=31337,
        confirmations=CONFIRMATIONS,
        native_symbol="ETH",
        rpc_url=node.url,
        options={
            "eip1559": True,
            "traces": True,
            "scan_batch": 50,
            "start_block": node.head() + 1,
            "gas_disperse": evm_contracts["GasDisperse"].address,
        },
    )
    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    address = signer.address(DEPOSIT_INDEX)
    DepositAddress.objects.create(
        family="evm", address=address, owner_ref="ACC-alice", derivation_index=DEPOSIT_INDEX
    )
    node.set_balance(signer.gas_wallet_address(), 10**20)
    yield Payout(node, network, evm_contracts, users, address, node.accounts[4])
    forget_chains()
    forget_watched()


def deposit_of(p: Payout, kind: str) -> Deposit:
    """Make the wrong deposit on-chain, confirm it, and let the scanner record it."""
    node, c, user, to = p.node, p.contracts, p.user, p.deposit_address
    if kind == "RevertingToken":  # it can be minted (an airdrop) but never moved again
        txid = node.transact(c[kind], "mint", to, 3 * 10**18)
    elif kind in ("TestToken", "NoReturnToken", "FeeToken"):
        node.transact(c[kind], "mint", user, 10 * 10**18)
        txid = node.transact(c[kind], "transfer", to, 3 * 10**18, sender=user)
    elif kind == "TestNFT":
        node.transact(c[kind], "mint", user, 42)
        txid = node.transact(c[kind], "safeTransferFrom", user, to, 42, sender=user)
    elif kind == "TestMultiToken":
        node.transact(c[kind], "mint", user, 7, 50)
        txid = node.transact(c[kind], "safeTransferFrom", user, to, 7, 20, b"", sender=user)
    else:
        txid = node.send({"from": user, "to": to, "value": 10**17})
    node.mine(CONFIRMATIONS)
    network_scan(network_id=p.network.pk)
    return Deposit.objects.get(txid=txid)


def run_to_end(p: Payout, refund: Refund, *, max_steps: int = 40) -> Refund:
    """What the refunds worker does, step by step; the test mines a block between steps."""
    for _ in range(max_steps):
        if refund_advance(refund_id=refund.pk) is None:
            break
        p.node.mine(1)
    refund.refresh_from_db()
    return refund


def balance(p: Payout, kind: str, holder: str) -> int:
    if kind == "native":
        return p.node.balance(holder)
    c = p.contracts[kind]
    if kind == "TestNFT":
        return int(p.node.call(c, "ownerOf", 42).lower() == holder.lower())
    if kind == "TestMultiToken":
        return p.node.call(c, "balanceOf", holder, 7)
    return p.node.call(c, "balanceOf", holder)


def triaged(*, deposit_id: int) -> Decision | None:
    """The return policy's decision, then the work a worker does on its commit: an approved case is
    executed (its refund queued), exactly as `tasks.case_execute` would."""
    decision = deposit_triage(deposit_id=deposit_id)
    approved = RecoveryCase.objects.filter(deposit_id=deposit_id, state=State.APPROVED)
    for case_id in approved.values_list("pk", flat=True):
        case_execute(case_id=case_id)
    return decision


def token_returns(p: Payout, count: int, *, swept_before: bool = True) -> list[Refund]:
    """`count` NoReturnToken deposits, each from its own sender to a new deposit address (numbered on from
    the addresses made before), auto-returned: their refunds queued, as a worker would on the approval.

    `swept_before`: each address already exists (EIP-161), holding the dust a past sweep left (1 gwei)."""
    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    token = p.contracts["NoReturnToken"]
    eth = {"symbol": "ETH", "decimals": 18, "usd_micros_per_unit": 3 * 10**9}
    AssetPrice.objects.get_or_create(network=p.network, contract="", defaults=eth)
    nrt = {"symbol": "NRT", "decimals": 18, "usd_micros_per_unit": 10**6}
    AssetPrice.objects.get_or_create(network=p.network, contract=token.address, defaults=nrt)
    UserProfile.objects.filter(user=p.users.alice).update(account_ref="ACC-alice")
    refunds = []
    for _ in range(count):
        made = DepositAddress.objects.filter(derivation_index__gt=DEPOSIT_INDEX).count()
        index = DEPOSIT_INDEX + 1 + made
        DepositAddress.objects.create(
            family="evm", address=signer.address(index), owner_ref="ACC-alice", derivation_index=index
        )
        p.user, p.deposit_address = p.node.accounts[1 + made], signer.address(index)
        if swept_before:
            p.node.set_balance(p.deposit_address, 10**9)
        deposit = deposit_of(p, "NoReturnToken")
        assert triaged(deposit_id=deposit.pk).disposition == "auto_return"
        refunds.append(Refund.objects.get(deposit=deposit))
    return refunds


def fees_jump(p, factor: int) -> None:
    """The price of gas becomes `factor` times today's (a spike, as in a mint rush): the base fee of the next
    block is set to it (anvil's base fee then eases by at most 1/8 a block, as on mainnet)."""
    gas_price = int(p.node.rpc.call("eth_gasPrice"), 16)
    p.node.rpc.call("anvil_setNextBlockBaseFeePerGas", [hex(gas_price * factor)])
    p.node.mine(1)
