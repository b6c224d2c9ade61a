"""LocalHDSigner: BIP-44 addresses against published vectors; transactions decode to what was asked."""

from __future__ import annotations

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak, to_checksum_address

import chains.evm.signer as signer_module
from chains.base import Family
from chains.evm.signer import GAS_WALLET, EvmUnsigned, Fees, LocalHDSigner
from chains.signing import Signer

ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
# The accounts anvil 1.7.1 prints for its default mnemonic (m/44'/60'/0'/0/i), a Rust implementation.
ANVIL_ACCOUNTS = {
    0: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    1: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    2: "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    9: "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
}
# `anvil --derivation-path "m/44'/60'/1'/0/"` account (0) for the same mnemonic.
ANVIL_GAS_WALLET = "0x8C8d35429F74ec245F8Ef2f4Fd1e551cFF97d650"
# The BIP-39 "abandon ... about" mnemonic at m/44'/60'/0'/0/0, as MetaMask and ethers.js derive it.
ABANDON_MNEMONIC = "abandon " * 11 + "about"
ABANDON_ADDRESS_0 = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94"
RECIPIENT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture(scope="module")
def signer() -> LocalHDSigner:
    return LocalHDSigner(ANVIL_MNEMONIC)


def test_signer_meets_the_signer_protocol(signer):
    assert isinstance(signer, Signer)
    assert signer.family is Family.EVM


@pytest.mark.parametrize(("index", "expected"), sorted(ANVIL_ACCOUNTS.items()))
def test_deposit_address_matches_anvil_accounts(signer, index, expected):
    assert signer.address(index) == expected


def test_gas_wallet_is_account_one_of_coin_type_60(signer):
    assert signer.gas_wallet_address() == ANVIL_GAS_WALLET
    assert signer.gas_wallet_address() not in {signer.address(i) for i in range(20)}


def test_deposit_address_matches_bip39_abandon_vector():
    assert LocalHDSigner(ABANDON_MNEMONIC).address(0) == ABANDON_ADDRESS_0


def test_passphrase_changes_every_key():
    assert LocalHDSigner(ANVIL_MNEMONIC, passphrase="x").address(0) != ANVIL_ACCOUNTS[0]


def test_mnemonic_is_not_kept_on_the_signer():
    signer = LocalHDSigner(ANVIL_MNEMONIC)
    signer.address(0)
    assert ANVIL_MNEMONIC not in repr(signer)
    assert all(ANVIL_MNEMONIC not in repr(value) for value in vars(signer).values())


def test_each_key_is_derived_once(monkeypatch):
    calls = []
    real = signer_module.key_from_seed

    def counting(seed, path):
        calls.append(path)
        return real(seed, path)

    monkeypatch.setattr(signer_module, "key_from_seed", counting)
    signer = LocalHDSigner(ANVIL_MNEMONIC)
    for _ in range(3):
        signer.address(5)
        signer.gas_wallet_address()
    assert sorted(calls) == sorted(["m/44'/60'/0'/0/5", "m/44'/60'/1'/0/0"])


def _eip1559(**overrides) -> EvmUnsigned:
    fields = dict(
        key=0,
        chain_id=31337,
        nonce=7,
        to=RECIPIENT.lower(),
        value=12345,
        gas=60_000,
        fees=Fees(max_fee_per_gas=3_000_000_000, max_priority_fee_per_gas=1_000_000_000),
        data=bytes.fromhex("a9059cbb"),
    )
    fields.update(overrides)
    return EvmUnsigned(**fields)


def test_eip1559_transaction_decodes_to_the_requested_fields(signer):
    signed = signer.sign(_eip1559())
    assert signed.raw[0] == 2  # EIP-2718 type byte of an EIP-1559 transaction
    # EIP-1559 payload: [chainId, nonce, maxPriority, maxFee, gas, to, value, data, accessList, y, r, s]
    chain_id, nonce, priority, max_fee, gas, to, value, data, access_list, *_ = rlp.decode(signed.raw[1:])
    as_int = lambda b: int.from_bytes(b, "big")  # noqa: E731
    assert [as_int(chain_id), as_int(nonce), as_int(priority), as_int(max_fee), as_int(gas)] == [
        31337,
        7,
        1_000_000_000,
        3_000_000_000,
        60_000,
    ]
    assert to_checksum_address(to) == RECIPIENT
    assert (as_int(value), data, access_list) == (12345, bytes.fromhex("a9059cbb"), [])
    assert signed.txid == "0x" + keccak(signed.raw).hex()
    assert Account.recover_transaction(signed.raw) == ANVIL_ACCOUNTS[0] == signed.sender
    assert signed.nonce == 7
    assert signed.fee_cap == 60_000 * 3_000_000_000


def test_legacy_transaction_is_eip155_protected(signer):
    signed = signer.sign(_eip1559(fees=Fees(gas_price=5_000_000_000), key=GAS_WALLET))
    nonce, gas_price, gas, to, value, data, v, _r, _s = rlp.decode(signed.raw)
    as_int = lambda b: int.from_bytes(b, "big")  # noqa: E731
    assert [as_int(nonce), as_int(gas_price), as_int(gas), as_int(value)] == [7, 5_000_000_000, 60_000, 12345]
    assert (to_checksum_address(to), data) == (RECIPIENT, bytes.fromhex("a9059cbb"))
    assert int.from_bytes(v, "big") in (31337 * 2 + 35, 31337 * 2 + 36)
    assert Account.recover_transaction(signed.raw) == ANVIL_GAS_WALLET == signed.sender
    assert signed.fee_cap == 60_000 * 5_000_000_000


def test_same_unsigned_signs_to_the_same_bytes(signer):
    # RFC 6979 deterministic signatures: a re-sign after a crash would not even change the hash.
    assert signer.sign(_eip1559()).raw == signer.sign(_eip1559()).raw


@pytest.mark.parametrize(
    "fees",
    [
        dict(max_fee_per_gas=1, max_priority_fee_per_gas=1, gas_price=1),
        dict(max_fee_per_gas=1),
        dict(max_fee_per_gas=1, max_priority_fee_per_gas=2),
        dict(),
        dict(gas_price=-1),
    ],
)
def test_fees_must_be_one_consistent_kind(fees):
    with pytest.raises(ValueError):
        Fees(**fees)


@pytest.mark.parametrize("key", [-1, "hot", True, None])
def test_unsigned_names_a_deposit_index_or_the_gas_wallet(key):
    with pytest.raises(ValueError):
        _eip1559(key=key)
