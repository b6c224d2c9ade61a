"""The demo's chain: anvil with a listed token and unsupported ones, configured as the `anvil` network."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from chains.evm.devnet import Anvil, DeployedContract, DevnetError, deploy_contract
from chains.evm.signer import LocalHDSigner
from recovery.deposits.watched import forget_watched
from recovery.models import AssetPrice, DepositAddress, ListedAsset, Network, UserProfile
from recovery.onchain.registry import forget_chains

DEMO_NETWORK = "anvil"
DEMO_ANVIL_PORT = 8545
DEMO_CONFIRMATIONS = 2
GAS_WALLET_WEI = 100 * 10**18
# name -> (contract, constructor args, symbol, decimals, USD micro-dollars per whole unit; None = unpriced)
DEMO_TOKENS: dict[str, tuple[str, tuple[object, ...], str, int, int | None]] = {
    "listed": ("TestToken", ("Listed Dollar", "LUSD", 6), "LUSD", 6, 1_000_000),
    "unsupported": ("TestToken", ("Wrapped Demo Coin", "WDC", 18), "WDC", 18, 2_000_000),
    "usd_no_return": ("NoReturnToken", (), "NRUSD", 6, 1_000_000),
    "nft": ("TestNFT", (), "DNFT", 0, 60_000_000),
}
ETH_USD_MICROS = 3_000 * 10**6


@dataclass(frozen=True)
class DemoChain:
    network_id: int
    rpc_url: str
    contracts: dict[str, DeployedContract]
    deposit_addresses: list[str]  # the demo user's, in derivation order


@dataclass(frozen=True)
class DemoDeposit:
    label: str
    txid: str
    expect: str  # what the policy should decide: auto_return, manual_review or normal_credit


def demo_anvil(*, port: int = DEMO_ANVIL_PORT) -> Anvil:
    """An anvil that mines a block every second (so confirmations come), on `port` if free, else any port."""
    return Anvil(chain_id=31337, port=port if port_free(port) else 0, block_time=1)


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def demo_chain_setup(*, node: Anvil, username: str = "alice") -> DemoChain:
    """Deploy the demo tokens and point the anvil network at the node (run after demo_seed)."""
    contracts = {key: deploy_contract(node, name, args) for key, (name, args, *_) in DEMO_TOKENS.items()}
    contracts["gas_disperse"] = deploy_contract(node, "GasDisperse")  # batches the gas wallet's top-ups
    start_block = node.head() + 1  # nothing before the demo's deposits is worth scanning
    node.set_balance(LocalHDSigner(settings.SIGNER_MNEMONIC).gas_wallet_address(), GAS_WALLET_WEI)
    network = demo_network_configure(rpc_url=node.url, contracts=contracts, start_block=start_block)
    profile = UserProfile.objects.get(user__username=username)
    addresses = list(
        DepositAddress.objects.filter(family="evm", owner_ref=profile.account_ref)
        .order_by("derivation_index")
        .values_list("address", flat=True)
    )
    # This process may have cached the adapter or watched set of an earlier node.
    forget_chains()
    forget_watched()
    return DemoChain(network.pk, node.url, contracts, addresses)


@transaction.atomic
def demo_network_configure(
    *, rpc_url: str, contracts: dict[str, DeployedContract], start_block: int
) -> Network:
    network = Network.objects.select_for_update().get(slug=DEMO_NETWORK)
    network.rpc_url = rpc_url
    network.scan_enabled = True
    network.confirmations = DEMO_CONFIRMATIONS
    network.options = {
        **(network.options or {}),
        "start_block": start_block,
        "scan_batch": 50,
        "gas_disperse": contracts["gas_disperse"].address,
    }
    network.save()
    ListedAsset.objects.update_or_create(
        network=network, contract="", defaults={"symbol": "ETH", "decimals": 18, "enabled": True}
    )
    listed = contracts["listed"].address
    ListedAsset.objects.update_or_create(
        network=network, contract=listed, defaults={"symbol": "LUSD", "decimals": 6, "enabled": True}
    )
    prices = [("", "ETH", 18, ETH_USD_MICROS)]
    prices += [
        (contracts[key].address, symbol, decimals, usd)
        for key, (_, _, symbol, decimals, usd) in DEMO_TOKENS.items()
        if usd
    ]
    for contract, symbol, decimals, usd_micros in prices:
        AssetPrice.objects.update_or_create(
            network=network,
            contract=contract,
            defaults={"symbol": symbol, "decimals": decimals, "usd_micros_per_unit": usd_micros},
        )
    return network


def demo_deposits_send(*, node: Anvil, chain: DemoChain) -> list[DemoDeposit]:
    """The wrong deposits of the story, each from its own anvil account to the demo user's addresses.

    Three are small enough to go back automatically; one is worth more than AUTO_RETURN_LIMIT_USD_CENTS
    and waits for staff; one is a listed token and is left to the exchange's deposit system.
    """
    c, to, senders = chain.contracts, chain.deposit_addresses, node.accounts[1:]
    large_wdc = (settings.AUTO_RETURN_LIMIT_USD_CENTS // 200 + 100) * 10**18  # WDC is $2: above the limit
    plan = [
        ("25 WDC (unsupported ERC-20)", "unsupported", "transfer", 25 * 10**18, "auto_return"),
        ("40 NRUSD (unsupported, no return value)", "usd_no_return", "transfer", 40 * 10**6, "auto_return"),
        ("NFT DNFT #7", "nft", "nft", 7, "auto_return"),
        (
            "large WDC deposit (above the auto-return limit)",
            "unsupported",
            "transfer",
            large_wdc,
            "manual_review",
        ),
        ("100 LUSD (a listed token)", "listed", "transfer", 100 * 10**6, "normal_credit"),
    ]
    sent = []
    for number, (label, key, kind, amount, expect) in enumerate(plan):
        sender, target = senders[number], to[number % len(to)]
        # Not waiting for each receipt: with interval mining a receipt takes up to a block time, and the
        # sender's nonces keep its mint before its transfer.
        node.transact(c[key], "mint", sender, amount, wait=False)
        if kind == "nft":
            txid = node.transact(
                c[key], "safeTransferFrom", sender, target, amount, sender=sender, wait=False
            )
        else:
            txid = node.transact(c[key], "transfer", target, amount, sender=sender, wait=False)
        sent.append(DemoDeposit(label, txid, expect))
    for deposit in sent:
        receipt = node.wait_receipt(deposit.txid, timeout=30)
        if receipt.get("status") != "0x1":
            raise DevnetError(f"demo deposit {deposit.label} reverted: {deposit.txid}")
    return sent
