"""The Bitcoin world of the journeys: a Bitcoin Core JSON-RPC fixture node that keeps making blocks, the
exchange's Bitcoin network on it, and a user's own wallet.

Nothing here moves a case along. The node is tests/chains/bitcoin/fake_node.py served over HTTP on a free
loopback port; the processes reach it only through the Network row's `rpc_url`. The user's wallet is a
BIP-84 wallet of her own seed (the project's HD signer, as any such wallet derives and signs) and sends
over the node's JSON-RPC as a wallet does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from bitcoin.core import CTransaction, b2lx, lx
from django.conf import settings

from chains.bitcoin.rpc import BitcoinRpc, SendOutcome
from chains.bitcoin.signer import BitcoinHdSigner, KeyChain, PayOutput, SpendInput, UnsignedBitcoinTx
from recovery.models import AssetPrice, DepositAddress, Network, UserProfile
from tests.chains.bitcoin.fake_node import FIXTURES_DIR, FakeBitcoinNode, FakeBlock, funding_tx
from tests.journeys.system import Seeded, people_seed, require

BTC_USD_MICROS = 60_000 * 10**6  # $60,000 a bitcoin
DEPOSIT_INDEX = 21  # alice's Bitcoin deposit address: m/84'/0'/0'/0/21 of the exchange's seed
# What the processes run with: mainnet, and no node URL of their own (they use the Network row's rpc_url).
BITCOIN_SETTINGS = {"BITCOIN_NETWORK": "bitcoin", "RPC_URL_BITCOIN": ""}


# --- the node -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Coin:
    txid: str
    vout: int
    value: int  # sats


@dataclass
class MiningNode(FakeBitcoinNode):
    """The fixture node, plus what the journey needs of a chain: blocks keep coming (each takes the whole
    mempool, as a miner would), and every transaction the node accepted over sendrawtransaction is kept."""

    accepted: dict[str, str] = field(default_factory=dict)  # txid -> raw hex, in order of acceptance
    _stop_mining: threading.Event = field(default_factory=threading.Event)
    _miner: threading.Thread | None = None

    def rpc_sendrawtransaction(self, hexstring: str, maxfeerate: Any = None) -> str:
        txid = super().rpc_sendrawtransaction(hexstring, maxfeerate)
        self.accepted.setdefault(txid, hexstring)
        return txid

    def mine_mempool(self) -> str:
        with self._lock:
            return self.mine(list(self.mempool.values()))

    def start_mining(self, every: float = 1.0) -> None:
        """A block every `every` seconds from now on, holding whatever the mempool has."""
        if self._miner is not None:
            return

        def run() -> None:
            while not self._stop_mining.wait(every):
                self.mine_mempool()

        self._miner = threading.Thread(target=run, name="fake-miner", daemon=True)
        self._miner.start()

    def stop(self) -> None:
        self._stop_mining.set()
        if self._miner is not None:
            self._miner.join(timeout=5)
        super().stop()

    @property
    def rpc_url(self) -> str:
        """The URL as a Network row stores it: credentials in the URL, as chain_registry reads them."""
        return self.url.replace("http://", f"http://{self.user}:{self.password}@")

    def pay_from_elsewhere(self, script: bytes, value: int, tag: int) -> Coin:
        """A block from elsewhere pays `value` to the script; returns the coin."""
        coin = funding_tx([(script, value)], tag=tag)
        self.mine([coin])
        return Coin(b2lx(coin.GetTxid()), 0, value)

    # --- what the chain holds (main chain only) ---

    def main_chain(self) -> list[FakeBlock]:
        with self._lock:
            return [self.blocks[h] for h in self.main]

    def confirmations_of(self, block: FakeBlock) -> int:
        with self._lock:
            return self._confirmations(block)

    def spenders(self, txid: str, vout: int) -> list[tuple[CTransaction, FakeBlock]]:
        """Every main-chain transaction spending the outpoint, with its block."""
        outpoint = (lx(txid), vout)
        return [
            (tx, block)
            for block in self.main_chain()
            for tx in block.txs
            if any((i.prevout.hash, i.prevout.n) == outpoint for i in tx.vin)
        ]

    def payments_to(self, script: bytes) -> list[tuple[CTransaction, FakeBlock]]:
        return [
            (tx, block)
            for block in self.main_chain()
            for tx in block.txs
            if any(bytes(o.scriptPubKey) == script for o in tx.vout)
        ]


# --- a user's own wallet ------------------------------------------------------------------------


class UserWallet:
    """A single-sig P2WPKH wallet: BIP-84 keys of its own seed (m/84'/0'/0'/0/index), sending over the
    node's JSON-RPC."""

    def __init__(self, seed: str, node: MiningNode) -> None:
        self.keys = BitcoinHdSigner(seed, "bitcoin")
        self.node = BitcoinRpc(node.url, user=node.user, password=node.password, timeout=30.0)

    def address(self, index: int) -> str:
        return self.keys.address(index)

    def script(self, index: int) -> bytes:
        return self.keys.script(KeyChain.DEPOSIT, index)  # the receive chain of account 0

    def pay(self, coin: Coin, *, owner: int, to: bytes, amount: int, fee: int) -> str:
        """Spend `coin` held by key `owner`: `amount` to script `to`, the change back; returns the txid."""
        change = coin.value - amount - fee
        unsigned = UnsignedBitcoinTx(
            network="bitcoin",
            inputs=(
                SpendInput(coin.txid, coin.vout, coin.value, self.script(owner), KeyChain.DEPOSIT, owner),
            ),
            outputs=(PayOutput(to, amount), PayOutput(self.script(owner), change)),
            fee=fee,
            vsize_estimate=0,
        )
        sent = self.node.sendrawtransaction(self.keys.sign(unsigned).raw)
        assert sent.outcome == SendOutcome.SENT and sent.txid, f"the node refused the payment: {sent}"
        return sent.txid


# --- the exchange's Bitcoin world ---------------------------------------------------------------


@dataclass(frozen=True)
class BitcoinWorld:
    """The exchange's Bitcoin network on the node, and alice's Bitcoin deposit address."""

    network: Network
    deposit_address: str
    deposit_script: bytes

    @property
    def network_name(self) -> str:  # as the filing page lists it
        return self.network.name


def world_seed(node: MiningNode) -> BitcoinWorld:
    """Seeded as an operator would: the demo's people and networks; the Bitcoin network (BTC listed with its
    minimum) pointed at the node, scanning from the next block; a BTC price; alice's deposit address."""
    people_seed()
    network = Network.objects.get(slug="bitcoin")
    network.rpc_url = node.rpc_url
    network.scan_enabled = True
    network.options = {**(network.options or {}), "start_block": node.tip_height + 1}
    network.save()
    AssetPrice.objects.create(
        network=network, contract="", symbol="BTC", decimals=8, usd_micros_per_unit=BTC_USD_MICROS
    )
    signer = BitcoinHdSigner(settings.SIGNER_MNEMONIC, "bitcoin")
    address = signer.address(DEPOSIT_INDEX)
    owner = UserProfile.objects.get(user__username="alice").account_ref
    DepositAddress.objects.create(
        family="bitcoin", address=address, owner_ref=owner, derivation_index=DEPOSIT_INDEX
    )
    return BitcoinWorld(network, address, signer.script(KeyChain.DEPOSIT, DEPOSIT_INDEX))


@contextmanager
def bitcoin_world() -> Iterator[Seeded]:
    """A fresh Bitcoin Core JSON-RPC fixture node (mainnet addresses) on 127.0.0.1:<free port>, and the
    exchange's Bitcoin world on it."""
    require(f"the Bitcoin fixtures at {FIXTURES_DIR}", FIXTURES_DIR.is_dir())
    node = MiningNode().start()
    try:
        yield Seeded(world_seed(node), node, BITCOIN_SETTINGS)
    finally:
        node.stop()
