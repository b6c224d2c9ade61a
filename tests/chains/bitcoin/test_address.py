"""Bitcoin addresses: BIP-173/BIP-350 vectors, base58check, networks, and real outputs from Esplora JSON."""

import json
from pathlib import Path

import pytest

from chains.base import InvalidAddress
from chains.bitcoin.address import address_to_script, normalize_address, script_to_address
from chains.bitcoin.network import NETWORKS, network_by_name

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures" / "bitcoin"
MAINNET, TESTNET = NETWORKS["bitcoin"], NETWORKS["bitcoin-testnet"]
SIGNET, REGTEST = NETWORKS["bitcoin-signet"], NETWORKS["bitcoin-regtest"]

# BIP-350 "valid segwit addresses" (the BIP-173 list with v1+ re-encoded in bech32m), typed from the BIP
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", MAINNET, "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    (
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
        TESTNET,
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262",
    ),
    (
        "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
        MAINNET,
        "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6",
    ),
    ("BC1SW50QGDZ25J", MAINNET, "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", MAINNET, "5210751e76e8199196d454941c45d1b3a323"),
    (
        "tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
        TESTNET,
        "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
        TESTNET,
        "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433",
    ),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        MAINNET,
        "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
    ),
]

# BIP-173 and BIP-350 invalid segwit addresses, with a fragment of the reason we must give
INVALID_SEGWIT = [
    ("tc1qw508d6qejxtdg4y5r3zarvary0c5xw7kg3g4ty", MAINNET, "prefix"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", MAINNET, "checksum"),
    ("BC13W508D6QEJXTDG4Y5R3ZARVARY0C5XW7KN40WF2", MAINNET, "witness version"),
    ("bc1rw5uspcuh", MAINNET, "2 to 40 bytes"),
    (
        "bc10w508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kw5rljs90",
        MAINNET,
        "2 to 40 bytes",
    ),
    ("BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P", MAINNET, "version 0 witness program has 20 or 32"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sL5k7", TESTNET, "mix"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvqyzf3du", MAINNET, "padding"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3pjxtptv", TESTNET, "padding"),
    ("bc1gmk9yu", MAINNET, "no witness version"),
    ("tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut", MAINNET, "prefix"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd", MAINNET, "must use bech32m"),
    ("tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf", TESTNET, "must use bech32m"),
    ("BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL", MAINNET, "must use bech32m"),
    ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh", MAINNET, "must use bech32,"),
    ("tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47", TESTNET, "must use bech32,"),
    ("bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4", MAINNET, "alphabet"),
    ("BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", MAINNET, "witness version"),
    ("bc1pw5dgrnzv", MAINNET, "2 to 40 bytes"),
    (
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
        MAINNET,
        "2 to 40 bytes",
    ),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq", TESTNET, "mix"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf", MAINNET, "padding"),
    ("tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j", TESTNET, "padding"),
]


@pytest.mark.parametrize(("address", "network", "script_hex"), VALID_SEGWIT)
def test_bip350_valid_address_maps_to_its_script_and_back(address, network, script_hex):
    assert address_to_script(address, network).hex() == script_hex
    assert script_to_address(bytes.fromhex(script_hex), network) == address.lower()
    assert normalize_address(address, network) == address.lower()


@pytest.mark.parametrize(("address", "network", "reason"), INVALID_SEGWIT)
def test_bip173_and_bip350_invalid_address_is_rejected_with_its_reason(address, network, reason):
    with pytest.raises(InvalidAddress, match=reason):
        normalize_address(address, network)


def test_bech32_address_is_rejected_on_another_network():
    with pytest.raises(InvalidAddress, match="'tb' is not bitcoin's 'bc'"):
        normalize_address("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7", MAINNET)
    with pytest.raises(InvalidAddress, match="'bc' is not bitcoin-regtest's 'bcrt'"):
        normalize_address("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", REGTEST)


def test_testnet_and_signet_share_prefixes_but_regtest_has_bcrt():
    script = b"\x00\x14" + bytes(range(20))
    assert script_to_address(script, TESTNET) == script_to_address(script, SIGNET)
    assert script_to_address(script, REGTEST).startswith("bcrt1q")


def test_base58_addresses_of_each_kind_map_to_scripts():
    # hash160 values from the addresses' well-known decodings (P2PKH of the genesis coinbase key, BIP-13 P2SH)
    assert (
        address_to_script("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", MAINNET).hex()
        == "76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"
    )
    assert address_to_script("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", MAINNET)[:2] == b"\xa9\x14"


def test_base58_with_a_wrong_checksum_is_rejected():
    with pytest.raises(InvalidAddress, match="checksum"):
        normalize_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", MAINNET)


def test_base58_of_the_wrong_network_is_rejected():
    with pytest.raises(InvalidAddress, match="0x6f"):
        normalize_address("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", MAINNET)
    with pytest.raises(InvalidAddress, match="0x00"):
        normalize_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", TESTNET)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7Di", "25 bytes"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa1111", "25 bytes"),
        ("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfN0", "alphabet"),
        ("bc1" + "q" * 100, "at most 90"),
    ],
)
def test_malformed_text_is_rejected_with_a_clear_reason(text, reason):
    with pytest.raises(InvalidAddress, match=reason):
        normalize_address(text, MAINNET)


def test_unaddressable_scripts_have_no_address():
    op_return = bytes.fromhex("6a0b68656c6c6f20776f726c64")
    bare_multisig = bytes.fromhex("5121" + "02" + "11" * 32 + "21" + "03" + "22" * 32 + "52ae")
    p2pk = bytes.fromhex("21" + "02" + "33" * 32 + "ac")
    v0_bad_length = b"\x00\x15" + bytes(21)
    for script in (op_return, bare_multisig, p2pk, v0_bad_length, b""):
        assert script_to_address(script, MAINNET) is None


def test_every_esplora_output_address_matches_the_script():
    """Esplora's scriptpubkey_address is an independent decoder: both directions must agree with it."""
    seen_types = set()
    for path in sorted(FIXTURES.glob("*.esplora.json")):
        tx = json.loads(path.read_text())
        for out in tx["vout"] + [vin["prevout"] for vin in tx["vin"] if vin.get("prevout")]:
            script = bytes.fromhex(out["scriptpubkey"])
            expected = out.get("scriptpubkey_address")
            assert script_to_address(script, MAINNET) == expected, path.name
            if expected is not None:
                assert address_to_script(expected, MAINNET) == script
                seen_types.add(out["scriptpubkey_type"])
    assert {"p2pkh", "p2sh", "v0_p2wpkh", "v0_p2wsh", "v1_p2tr"} <= seen_types


def test_unknown_network_name_is_refused():
    with pytest.raises(KeyError, match="known"):
        network_by_name("bitcoin-cash")
