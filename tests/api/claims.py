"""Fixtures for user-side tests: an anvil-backed network, alice's deposit address, a real token deposit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from eth_utils import keccak, to_checksum_address

from chains.evm.devnet import Anvil, DeployedContract
from recovery.accounts.second_factor import totp_now
from recovery.models import AssetPrice, DepositAddress, FeeRule, Network
from recovery.onchain.registry import forget_chains
from tests.factories import make_authenticator, make_network

ALICE_DEPOSIT = to_checksum_address(keccak(text="alice deposit address")[12:])
BOB_DEPOSIT = to_checksum_address(keccak(text="bob deposit address")[12:])
ELSEWHERE = to_checksum_address(keccak(text="nobody's address")[12:])
REFUND_TO = to_checksum_address(keccak(text="alice own wallet")[12:])
TOKENS = 50 * 10**18  # 50 TT at 18 decimals


@dataclass
class Deposited:
    network: Network
    anvil: Anvil
    token: DeployedContract
    txid: str
    sender: str


def totp_of(user) -> str:
    return totp_now(TOTPDevice.objects.get(user=user, confirmed=True))


def fresh_totp(user) -> str:
    """A code the device has not accepted yet (django-otp refuses a reused time step)."""
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    device.last_t = -1
    device.save(update_fields=["last_t"])
    return totp_now(device)


@pytest.fixture
def anvil_network(db, anvil) -> Iterator[Network]:
    forget_chains()
    network = make_network(
        "anvil", rpc_url=anvil.url, options={"eip1559": True, "return_cost_usd_cents": 300}
    )
    yield network
    forget_chains()


@pytest.fixture
def claim_setup(users, anvil_network, evm_snapshot, evm_contracts) -> Deposited:
    """Alice and bob own a deposit address each; an unlisted ERC-20 (TT) reached alice's; a fee, a price."""
    DepositAddress.objects.create(family="evm", address=ALICE_DEPOSIT, owner_ref="ACC-alice")
    DepositAddress.objects.create(family="evm", address=BOB_DEPOSIT, owner_ref="ACC-bob")
    for user in (users.alice, users.bob):
        make_authenticator(user)
    token = evm_contracts["TestToken"]
    anvil = evm_snapshot
    sender = anvil.accounts[1]
    anvil.transact(token, "mint", sender, 10 * TOKENS)
    txid = anvil.transact(token, "transfer", ALICE_DEPOSIT, TOKENS, sender=sender)
    anvil.mine(3)
    # $2 a token: the deposit is worth $100.
    AssetPrice.objects.create(
        network=anvil_network, contract=token.address, symbol="TT", decimals=18, usd_micros_per_unit=2_000_000
    )
    FeeRule.objects.create(
        category="unsupported_token", flat_usd_cents=500, percent_bps=100, cap_usd_cents=2_000
    )
    return Deposited(anvil_network, anvil, token, txid, sender)
