"""The battery's world: the token contracts on anvil, the network (read through a faulty proxy), prices
and token rules for every kind, the deposit addresses, and the senders' holdings minted beforehand."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

from bench.battery.workload import FUNGIBLE, Workload

CONFIRMATIONS = (
    6  # blocks on top before a deposit is acted on or a refund settled: deeper than any reorg here
)
FIRST_INDEX = 7000  # derivation index of the first deposit address
PRICES = {  # contract deployment -> (symbol, decimals, USD micros per whole unit)
    "TestToken": ("TT", 18, 10**6),
    "NoReturnToken": ("NRT", 18, 10**6),
    "FeeToken": ("FEE", 18, 10**6),
    "LegacyToken": ("OLD", 18, 10**6),
    "BlacklistToken": ("LST", 18, 10**6),
    "FalseReturnToken": ("QUIET", 18, 10**6),
    "HugeToken": ("HUGE", 18, 10**6),
    "TestNFT": ("NFT", 0, 100 * 10**6),
    "TestMultiToken": ("MULTI", 0, 20 * 10**6),
}
DEPLOYMENTS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "TestToken": ("TestToken", ("Test Token", "TT", 18)),
    "NoReturnToken": ("NoReturnToken", ()),
    "FeeToken": ("FeeToken", (100,)),
    "LegacyToken": ("LegacyToken", ()),
    "BlacklistToken": ("BlacklistToken", ()),
    "FalseReturnToken": ("FalseReturnToken", ()),
    "HugeToken": ("TestToken", ("Huge Token", "HUGE", 18)),
    "SpamToken": ("TestToken", ("Free Airdrop", "CLAIM", 18)),
    "TestNFT": ("TestNFT", ()),
    "TestMultiToken": ("TestMultiToken", ()),
    "GasDisperse": ("GasDisperse", ()),
}


@dataclass
class World:
    node: Any
    network: Any
    contracts: dict[str, Any]
    workload: Workload
    gas_wallet: str
    start_block: int


def deposit_addresses(count: int) -> list[str]:
    from django.conf import settings

    from chains.evm.signer import LocalHDSigner
    from recovery.models import DepositAddress

    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    addresses = [signer.address(FIRST_INDEX + n) for n in range(count)]
    DepositAddress.objects.bulk_create(
        DepositAddress(family="evm", address=a, owner_ref="ACC-battery", derivation_index=FIRST_INDEX + n)
        for n, a in enumerate(addresses)
    )
    return addresses


def world_create(node, rpc_url: str, workload: Workload) -> World:
    """Deploy, mint every sender's holdings, then create the network with its scanner starting after."""
    from django.conf import settings
    from django.contrib.auth.models import User

    from chains.evm.devnet import deploy_contract
    from chains.evm.signer import LocalHDSigner
    from recovery.models import AssetPrice, Network, TokenRule, UserProfile

    contracts = {key: deploy_contract(node, name, args) for key, (name, args) in DEPLOYMENTS.items()}
    holdings_mint(node, contracts, workload)
    network = Network.objects.create(
        slug="anvil", name="Anvil", family="evm", chain_id=31337, confirmations=CONFIRMATIONS,
        native_symbol="ETH", rpc_url=rpc_url, scan_enabled=False,
        options={"eip1559": True, "traces": True, "scan_batch": 50, "start_block": node.head() + 1,
                 "gas_disperse": contracts["GasDisperse"].address},
    )  # fmt: skip
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
    )
    for key, (symbol, decimals, micros) in PRICES.items():
        AssetPrice.objects.create(
            network=network,
            contract=contracts[key].address,
            symbol=symbol,
            decimals=decimals,
            usd_micros_per_unit=micros,
        )
    TokenRule.objects.create(network=network, contract=contracts["SpamToken"].address, kind="spam")
    TokenRule.objects.create(network=network, contract=contracts["LegacyToken"].address, kind="legacy")
    owner = User.objects.create_user("battery", "battery@example.com", "battery-password-1")
    UserProfile.objects.update_or_create(user=owner, defaults={"account_ref": "ACC-battery"})
    gas_wallet = LocalHDSigner(settings.SIGNER_MNEMONIC).gas_wallet_address()
    node.set_balance(gas_wallet, 10**24)
    return World(node, network, contracts, workload, gas_wallet, node.head() + 1)


def holdings_mint(node, contracts: dict[str, Any], workload: Workload) -> None:
    """What each sender will send, minted to it first; the false-return token refuses its senders."""
    owed: collections.Counter = collections.Counter()
    for p in workload.deposits:
        if p.kind.contract in (*FUNGIBLE, "HugeToken", "SpamToken"):
            owed[(p.kind.contract, p.sender)] += sum(p.amounts)
    txids = [
        node.transact(contracts[token], "mint", sender, amount, wait=False)
        for (token, sender), amount in owed.items()
    ]
    for token, sender, token_id, amount in workload.nft_ids:
        if token == "TestNFT":
            txids.append(node.transact(contracts[token], "mint", sender, token_id, wait=False))
        else:
            txids.append(node.transact(contracts[token], "mint", sender, token_id, amount, wait=False))
    refused = {p.sender for p in workload.deposits if p.kind.name == "false_return"}
    txids += [node.transact(contracts["FalseReturnToken"], "refuse", s, wait=False) for s in refused]
    for txid in txids:
        receipt = node.wait_receipt(txid, timeout=120)
        assert int(receipt["status"], 16) == 1, f"setup transaction {txid} reverted"
