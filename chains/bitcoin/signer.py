"""Local HD signer for Bitcoin (development and tests): BIP-39 seed, BIP-32/BIP-84 keys, P2WPKH signing.

Deposit addresses are m/84'/coin'/0'/0/index, the fee wallet is m/84'/coin'/1'/0/index (coin 0 on mainnet,
1 elsewhere). The mnemonic is used once to derive the two account keys and is never stored. Signatures
come from python-bitcoinlib (OpenSSL, random nonce, low-S): signing the same transaction twice gives
different bytes, which is why the signed transaction is stored before it is broadcast.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bitcoin.core import CMutableTransaction, COutPoint, CTxIn, CTxInWitness, CTxOut, CTxWitness, Hash160, lx
from bitcoin.core.script import (
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptWitness,
    SignatureHash,
)
from bitcoin.wallet import CKey

from chains.base import Family, SignedTx
from chains.bitcoin.address import script_to_address
from chains.bitcoin.network import BitcoinNetwork, network_by_name
from chains.bitcoin.parse import txid as txid_of

SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HARDENED = 0x80000000
RBF_SEQUENCE = 0xFFFFFFFD  # BIP-125: replaceable, and no relative lock time


class KeyChain(enum.StrEnum):
    DEPOSIT = "deposit"  # account 0': the exchange's deposit addresses
    FEE = "fee"  # account 1': the hot wallet paying refund fees and receiving change


@dataclass(frozen=True, slots=True)
class SpendInput:
    """An output to spend, and which key owns it; value and script feed the BIP-143 sighash."""

    txid: str
    vout: int
    value: int
    script_pubkey: bytes
    key: KeyChain
    key_index: int
    sequence: int = RBF_SEQUENCE


@dataclass(frozen=True, slots=True)
class PayOutput:
    script_pubkey: bytes
    value: int


@dataclass(frozen=True, slots=True)
class UnsignedBitcoinTx:
    """What the signer is asked to sign: every input names its key, every amount is in satoshis."""

    network: str
    inputs: tuple[SpendInput, ...]
    outputs: tuple[PayOutput, ...]
    fee: int
    vsize_estimate: int
    locktime: int = 0
    version: int = 2
    purpose: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExtendedKey:
    """A BIP-32 private node: the key and its chain code."""

    private: bytes
    chain_code: bytes

    @property
    def public(self) -> bytes:
        return CKey(self.private).pub  # compressed SEC1

    def child(self, index: int) -> ExtendedKey:
        data = b"\x00" + self.private if index >= HARDENED else bytes(self.public)
        digest = hmac.new(self.chain_code, data + index.to_bytes(4, "big"), hashlib.sha512).digest()
        tweak = int.from_bytes(digest[:32], "big")
        key = (tweak + int.from_bytes(self.private, "big")) % SECP256K1_ORDER
        if tweak >= SECP256K1_ORDER or key == 0:  # probability ~2**-127; BIP-32 says skip this index
            raise ValueError(f"BIP-32 index {index} gives an invalid key; use the next one")
        return ExtendedKey(key.to_bytes(32, "big"), digest[32:])

    def derive(self, path: str) -> ExtendedKey:
        """A relative path such as "84'/0'/0'" (apostrophe or h marks hardened)."""
        node = self
        for part in filter(None, path.strip("/").split("/")):
            hardened = part[-1] in "'hH"
            node = node.child(int(part.rstrip("'hH")) + (HARDENED if hardened else 0))
        return node


def mnemonic_to_seed(mnemonic: str, passphrase: str = "") -> bytes:
    """BIP-39: PBKDF2-HMAC-SHA512, 2048 rounds, salt "mnemonic" + passphrase, both NFKD-normalized."""
    words = unicodedata.normalize("NFKD", " ".join(mnemonic.split()))
    salt = unicodedata.normalize("NFKD", "mnemonic" + passphrase)
    return hashlib.pbkdf2_hmac("sha512", words.encode(), salt.encode(), 2048)


def master_key(seed: bytes) -> ExtendedKey:
    digest = hmac.new(b"Bitcoin seed", seed, hashlib.sha512).digest()
    return ExtendedKey(digest[:32], digest[32:])


def p2wpkh_script(public_key: bytes) -> bytes:
    return b"\x00\x14" + Hash160(public_key)


def coin_type(network: BitcoinNetwork) -> int:
    return 0 if network.name == "bitcoin" else 1  # SLIP-44: every test network shares coin type 1


class BitcoinHdSigner:
    """chains.signing.Signer for Bitcoin: P2WPKH deposit addresses and a P2WPKH fee wallet."""

    family = Family.BITCOIN

    def __init__(self, mnemonic: str, network: BitcoinNetwork | str, *, passphrase: str = "") -> None:
        self.network = network_by_name(network) if isinstance(network, str) else network
        purpose = master_key(mnemonic_to_seed(mnemonic, passphrase)).derive(f"84'/{coin_type(self.network)}'")
        # only the two receive chains are kept: m/84'/coin'/account'/0
        self._chains = {
            KeyChain.DEPOSIT: purpose.derive("0'/0"),
            KeyChain.FEE: purpose.derive("1'/0"),
        }

    def key(self, chain: KeyChain, index: int) -> ExtendedKey:
        if not 0 <= index < HARDENED:
            raise ValueError(f"key index must be in [0, 2**31): {index}")
        return self._chains[chain].child(index)

    def script(self, chain: KeyChain, index: int) -> bytes:
        return p2wpkh_script(self.key(chain, index).public)

    def address(self, index: int) -> str:
        """The deposit address at `index` (m/84'/coin'/0'/0/index)."""
        return self._address(KeyChain.DEPOSIT, index)

    def fee_address(self, index: int = 0) -> str:
        return self._address(KeyChain.FEE, index)

    def _address(self, chain: KeyChain, index: int) -> str:
        address = script_to_address(self.script(chain, index), self.network)
        assert address is not None  # a P2WPKH script always has an address
        return address

    def sign(self, unsigned: UnsignedBitcoinTx) -> SignedTx:
        """Sign every input (SIGHASH_ALL, BIP-143); refuses an input whose script is not its key's."""
        if unsigned.network != self.network.name:
            raise ValueError(f"transaction for {unsigned.network}, signer for {self.network.name}")
        fee = sum(i.value for i in unsigned.inputs) - sum(o.value for o in unsigned.outputs)
        if fee < 0 or fee != unsigned.fee:
            raise ValueError(f"inputs minus outputs is {fee} sat, the transaction says {unsigned.fee}")
        tx = CMutableTransaction(
            [CTxIn(COutPoint(lx(i.txid), i.vout), nSequence=i.sequence) for i in unsigned.inputs],
            [CTxOut(o.value, CScript(o.script_pubkey)) for o in unsigned.outputs],
            unsigned.locktime,
            unsigned.version,
        )
        witnesses = [self._witness(tx, n, spent) for n, spent in enumerate(unsigned.inputs)]
        tx.wit = CTxWitness([CTxInWitness(CScriptWitness(stack)) for stack in witnesses])
        raw = tx.serialize()
        first = unsigned.inputs[0]
        return SignedTx(
            raw=raw,
            txid=txid_of(tx),
            sender=script_to_address(first.script_pubkey, self.network),
            fee_cap=fee,
            extra={"fee": fee, "vsize": _vsize(tx), "purpose": unsigned.purpose} | unsigned.details,
        )

    def _witness(self, tx: CMutableTransaction, n: int, spent: SpendInput) -> list[bytes]:
        key = self.key(spent.key, spent.key_index)
        public = key.public
        if p2wpkh_script(public) != spent.script_pubkey:
            raise ValueError(f"input {n} is not paid to {spent.key} key {spent.key_index}")
        script_code = CScript([OP_DUP, OP_HASH160, Hash160(public), OP_EQUALVERIFY, OP_CHECKSIG])
        sighash = SignatureHash(script_code, tx, n, SIGHASH_ALL, spent.value, SIGVERSION_WITNESS_V0)
        signature = CKey(key.private).sign(sighash) + bytes([SIGHASH_ALL])
        return [signature, bytes(public)]


def _vsize(tx: CMutableTransaction) -> int:
    stripped = len(CMutableTransaction(tx.vin, tx.vout, tx.nLockTime, tx.nVersion).serialize())
    weight = stripped * 3 + len(tx.serialize())
    return (weight + 3) // 4
