"""The EVM world of the journeys: anvil mining a block a second, the demo's chain seeded on it, and the chain
as people use it (wallets send tokens in transactions; anyone can read what the chain holds).

The world is seeded as `manage.py demo` seeds it (`demo_seed`, `demo_chain_setup`, the demo approvers' TOTP
devices), plus a token nobody prices and a minimum deposit for the listed LUSD.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_account import Account
from eth_utils import keccak, to_checksum_address

from chains.evm.devnet import Anvil, DeployedContract, anvil_available, deploy_contract
from recovery.devtools.demo_chain import DEMO_NETWORK, demo_chain_setup
from recovery.models import DepositAddress, ListedAsset, Network, UserProfile
from tests.journeys.system import Seeded, people_seed, require

# Set-up beyond the demo's: a token nobody prices (the scanner leaves it alone, a user reports it) and a
# minimum deposit for the listed LUSD (a smaller deposit is "below minimum": a case for an account credit).
UNLISTED_TOKEN = ("TestToken", ("Unlisted Gold", "ULG", 18))
LUSD_MIN_DEPOSIT = 10 * 10**6
# anvil's funded accounts: the first deploys, the others are the wallets people send deposits from.
WALLETS = 40
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()


def topic_of(address: str) -> str:
    return "0x" + "0" * 24 + address.lower().removeprefix("0x")


@dataclass(frozen=True)
class Transfer:
    token: str
    sender: str
    recipient: str
    amount: int
    tx_hash: str
    block: int


class Chain:
    """anvil, reached only over its RPC: transactions from its funded wallets, and reads (eth_getLogs)."""

    def __init__(self, node: Anvil, contracts: dict[str, DeployedContract]) -> None:
        self.node = node
        self.contracts = contracts
        self._unused_wallets = list(node.accounts[1:])

    def wallet(self) -> str:
        """A funded wallet nobody has used in this run (each journey's depositor is somebody new)."""
        return self._unused_wallets.pop(0)

    @staticmethod
    def new_address() -> str:
        """A fresh address of the user's own wallet (no history: every transfer to it is a refund)."""
        return to_checksum_address(Account.create().address)

    def send_tokens(self, token: str, *, sender: str, to: str, amount: int) -> str:
        """The wallet gets `amount` of the token (minted to it) and sends it to `to`; returns the txid."""
        contract = self.contracts[token]
        self.node.transact(contract, "mint", sender, amount)
        txid = self.node.transact(contract, "transfer", to, amount, sender=sender)
        receipt = self.node.wait_receipt(txid, timeout=30)
        assert receipt["status"] == "0x1", f"the deposit reverted: {receipt}"
        return txid

    def balance(self, token: str, address: str) -> int:
        return int(self.node.call(self.contracts[token], "balanceOf", address))

    def transfers(self, token: str, *, to: str | None = None, sender: str | None = None) -> list[Transfer]:
        """Every Transfer log of the token to / from the given addresses, from genesis to the head."""
        topics: list[str | None] = [TRANSFER_TOPIC, topic_of(sender) if sender else None]
        topics.append(topic_of(to) if to else None)
        contract = self.contracts[token].address
        logs = self.node.rpc.call(
            "eth_getLogs", [{"address": contract, "fromBlock": "0x0", "toBlock": "latest", "topics": topics}]
        )
        return [
            Transfer(
                token=token,
                sender=to_checksum_address("0x" + log["topics"][1][-40:]),
                recipient=to_checksum_address("0x" + log["topics"][2][-40:]),
                amount=int(log["data"], 16),
                tx_hash=log["transactionHash"],
                block=int(log["blockNumber"], 16),
            )
            for log in logs
        ]


@dataclass(frozen=True)
class World:
    """What exists before any journey: the chain's contracts and the users' deposit addresses."""

    contracts: dict[str, DeployedContract]
    deposit_addresses: dict[str, list[str]]  # username -> addresses, in derivation order
    network_name: str  # as the filing page lists it

    def deposit_address(self, username: str, number: int = 0) -> str:
        addresses = self.deposit_addresses[username]
        return addresses[number % len(addresses)]


def world_seed(node: Anvil) -> World:
    """Seed the database and the chain the way `manage.py demo` does (set-up, not a journey step)."""
    people_seed()
    contracts = dict(demo_chain_setup(node=node).contracts)
    name, args = UNLISTED_TOKEN
    contracts["unlisted"] = deploy_contract(node, name, args)
    network = Network.objects.get(slug=DEMO_NETWORK)
    ListedAsset.objects.filter(network=network, contract=contracts["listed"].address).update(
        min_deposit=LUSD_MIN_DEPOSIT
    )
    addresses = {
        profile.user.username: list(
            DepositAddress.objects.filter(family="evm", owner_ref=profile.account_ref)
            .order_by("derivation_index")
            .values_list("address", flat=True)
        )
        for profile in UserProfile.objects.select_related("user")
    }
    return World(contracts, addresses, network.name)


@contextmanager
def evm_world() -> Iterator[Seeded]:
    """anvil (chain id 31337, a block a second, WALLETS funded accounts) and the demo's world on it."""
    require("the anvil binary (npm install)", anvil_available())
    node = Anvil(chain_id=31337, port=0, block_time=1, accounts=WALLETS).start()
    try:
        world = world_seed(node)
        yield Seeded(world, Chain(node, world.contracts))
    finally:
        node.stop()
