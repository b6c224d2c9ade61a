"""The HD signer: BIP-32/BIP-84 derivation against published vectors, and signatures the kernel accepts."""

from __future__ import annotations

import pytest
from bitcoin.core import CTransaction
from bitcoin.wallet import CBitcoinSecret

from chains.base import Family
from chains.bitcoin.address import address_to_script, script_to_address
from chains.bitcoin.network import NETWORKS
from chains.bitcoin.signer import (
    RBF_SEQUENCE,
    BitcoinHdSigner,
    KeyChain,
    PayOutput,
    SpendInput,
    UnsignedBitcoinTx,
    master_key,
    mnemonic_to_seed,
    p2wpkh_script,
)
from chains.signing import Signer
from tests.chains.bitcoin.kernel import (
    is_valid,
    verify_tx,
    with_output_value_changed,
    with_signatures_swapped,
)

MAINNET = NETWORKS["bitcoin"]
ABANDON = " ".join(["abandon"] * 11 + ["about"])


@pytest.fixture(scope="module")
def signer() -> BitcoinHdSigner:
    return BitcoinHdSigner(ABANDON, MAINNET)


def test_bip32_vector_1_master_and_first_hardened_child() -> None:
    # BIP-32 "Test vector 1", seed 000102...0f: chain m and m/0H (chain code, private key)
    master = master_key(bytes.fromhex("000102030405060708090a0b0c0d0e0f"))
    assert master.chain_code.hex() == "873dff81c02f525623fd1fe5167eac3a55a049de3d314bb42ee227ffed37d508"
    assert master.private.hex() == "e8f32e723decf4051aefac8e2c93c9c5b214313817cdb01a1494b917c8436b35"
    child = master.derive("0'")
    assert child.chain_code.hex() == "47fdacbd0f1097043b78c63c20c34ef4ed9a111d980047ad16282c7ae6236141"
    assert child.private.hex() == "edb2e14f9ee77d26dd93b4ecede8d16ed408ce149b6cd80b0715a2d911a0afea"


def test_bip39_seed_of_the_trezor_vector() -> None:
    # BIP-39 reference vectors (trezor/python-mnemonic vectors.json): all-"abandon...about", passphrase TREZOR
    seed = mnemonic_to_seed(ABANDON, "TREZOR")
    assert seed.hex().startswith("c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e5349553")


def test_bip84_deposit_addresses_match_the_published_vectors(signer: BitcoinHdSigner) -> None:
    assert signer.address(0) == "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    assert signer.address(1) == "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g"


def test_bip84_first_change_address_and_private_key() -> None:
    root = master_key(mnemonic_to_seed(ABANDON))
    change = root.derive("84'/0'/0'/1/0")
    assert (
        script_to_address(p2wpkh_script(change.public), MAINNET)
        == "bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el"
    )
    first = root.derive("84'/0'/0'/0/0")
    wif = CBitcoinSecret("KyZpNDKnfs94vbrwhJneDi77V6jF64PWPF8x5cdJb8ifgg2DUc9d")
    assert first.private == bytes(wif)[:32]  # WIF payload: 32-byte key, then 0x01 for "compressed"
    assert first.public.hex() == "0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c"


def test_fee_wallet_is_account_one_and_testnets_use_coin_type_one() -> None:
    root = master_key(mnemonic_to_seed(ABANDON))
    mainnet = BitcoinHdSigner(ABANDON, MAINNET)
    assert mainnet.script(KeyChain.FEE, 3) == p2wpkh_script(root.derive("84'/0'/1'/0/3").public)
    testnet = BitcoinHdSigner(ABANDON, "bitcoin-testnet")
    assert testnet.script(KeyChain.DEPOSIT, 0) == p2wpkh_script(root.derive("84'/1'/0'/0/0").public)
    assert testnet.address(0).startswith("tb1q")


def test_signer_keeps_no_copy_of_the_mnemonic(signer: BitcoinHdSigner) -> None:
    assert isinstance(signer, Signer) and signer.family is Family.BITCOIN
    state = repr(vars(signer)) if hasattr(signer, "__dict__") else ""
    assert "abandon" not in state
    assert mnemonic_to_seed(ABANDON).hex() not in state


def _spend(signer: BitcoinHdSigner, chain: KeyChain, index: int, value: int, tag: int) -> SpendInput:
    return SpendInput(f"{tag:064x}", tag % 3, value, signer.script(chain, index), chain, index)


def _two_input_tx(signer: BitcoinHdSigner) -> UnsignedBitcoinTx:
    inputs = (_spend(signer, KeyChain.DEPOSIT, 7, 50_000, 1), _spend(signer, KeyChain.FEE, 0, 20_000, 2))
    destination = address_to_script("bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g", MAINNET)
    outputs = (PayOutput(destination, 50_000), PayOutput(signer.script(KeyChain.FEE, 0), 18_000))
    return UnsignedBitcoinTx("bitcoin", inputs, outputs, fee=2_000, vsize_estimate=209)


def test_signed_transaction_passes_consensus_with_all_spent_outputs(signer: BitcoinHdSigner) -> None:
    unsigned = _two_input_tx(signer)
    signed = signer.sign(unsigned)
    spent = [(i.script_pubkey, i.value) for i in unsigned.inputs]
    verify_tx(signed.raw, spent)
    tx = CTransaction.deserialize(signed.raw)
    assert [i.nSequence for i in tx.vin] == [RBF_SEQUENCE, RBF_SEQUENCE]
    assert signed.fee_cap == 2_000 and signed.extra["vsize"] <= unsigned.vsize_estimate
    assert signed.sender == signer.address(7)


def test_kernel_rejects_a_changed_output_value(signer: BitcoinHdSigner) -> None:
    unsigned = _two_input_tx(signer)
    tampered = with_output_value_changed(signer.sign(unsigned).raw, 0, -1)
    assert not is_valid(tampered, [(i.script_pubkey, i.value) for i in unsigned.inputs])


def test_kernel_rejects_swapped_signatures(signer: BitcoinHdSigner) -> None:
    unsigned = _two_input_tx(signer)
    raw = signer.sign(unsigned).raw
    tampered = with_signatures_swapped(raw, 0, 1)
    assert tampered != raw
    assert not is_valid(tampered, [(i.script_pubkey, i.value) for i in unsigned.inputs])


def test_kernel_rejects_a_wrong_spent_amount(signer: BitcoinHdSigner) -> None:
    # BIP-143 commits to the amount: claiming the deposit held 1 sat more must fail
    unsigned = _two_input_tx(signer)
    raw = signer.sign(unsigned).raw
    assert not is_valid(
        raw, [(unsigned.inputs[0].script_pubkey, 50_001), (unsigned.inputs[1].script_pubkey, 20_000)]
    )


def test_sign_refuses_an_input_not_paid_to_the_named_key(signer: BitcoinHdSigner) -> None:
    unsigned = _two_input_tx(signer)
    wrong = SpendInput("11" * 32, 0, 50_000, signer.script(KeyChain.DEPOSIT, 8), KeyChain.DEPOSIT, 7)
    bad = UnsignedBitcoinTx("bitcoin", (wrong, unsigned.inputs[1]), unsigned.outputs, 2_000, 209)
    with pytest.raises(ValueError, match="not paid to deposit key 7"):
        signer.sign(bad)


def test_sign_refuses_another_network_and_an_inconsistent_fee(signer: BitcoinHdSigner) -> None:
    unsigned = _two_input_tx(signer)
    with pytest.raises(ValueError, match="signer for bitcoin"):
        signer.sign(UnsignedBitcoinTx("bitcoin-testnet", unsigned.inputs, unsigned.outputs, 2_000, 209))
    with pytest.raises(ValueError, match="inputs minus outputs"):
        signer.sign(UnsignedBitcoinTx("bitcoin", unsigned.inputs, unsigned.outputs, 1_000, 209))
