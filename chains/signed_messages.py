"""Signed-message checks (Django-free): EIP-191 personal_sign, Bitcoin legacy signmessage, BIP-322 simple."""

from __future__ import annotations

import base64
import binascii
import hashlib

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_keys.backends.native.ecdsa import decompress_public_key, ecdsa_raw_recover, ecdsa_raw_verify

from chains.bitcoin.address import address_to_script
from chains.bitcoin.network import BitcoinNetwork

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SIGHASH_ALL = 1


class BadSignature(ValueError):
    """The signature is malformed or does not prove control of the address."""


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


def hash160(data: bytes) -> bytes:
    return hashlib.new("ripemd160", hashlib.sha256(data).digest()).digest()


def varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    return b"\xfe" + n.to_bytes(4, "little")


def decode_base64(signature: str) -> bytes:
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("the signature is not base64") from None


# --- EIP-191 -----------------------------------------------------------------------------------


def verify_eip191(address: str, message: str, signature: str) -> None:
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature.strip())
    except Exception:  # eth_account raises several types for malformed input
        raise BadSignature("the signature is not a valid 65-byte EIP-191 signature") from None
    if signer.lower() != address.lower():
        raise BadSignature("the message was signed by another address")


# --- Bitcoin: legacy signmessage (and BIP-137 segwit headers) -----------------------------------


def legacy_message_hash(message: str) -> bytes:
    prefix = b"Bitcoin Signed Message:\n"
    body = message.encode()
    return sha256d(varint(len(prefix)) + prefix + varint(len(body)) + body)


def compress(public_key64: bytes) -> bytes:
    x, y = public_key64[:32], int.from_bytes(public_key64[32:], "big")
    return bytes([2 + (y & 1)]) + x


def key_hash_of(address: str, network: BitcoinNetwork) -> tuple[str, bytes]:
    """('p2pkh' | 'p2wpkh', the 20-byte key hash) of a single-key address; others are refused."""
    script = address_to_script(address, network)
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return "p2pkh", script[3:23]
    if len(script) == 22 and script[:2] == b"\x00\x14":
        return "p2wpkh", script[2:22]
    raise BadSignature("only single-key addresses (P2PKH, P2WPKH) can sign a message here")


def verify_legacy(address: str, message: str, signature: str, network: BitcoinNetwork) -> None:
    raw = decode_base64(signature)
    if len(raw) != 65 or not 27 <= raw[0] <= 42:
        raise BadSignature("a legacy signature is 65 bytes with a header byte of 27 to 42")
    kind, key_hash = key_hash_of(address, network)
    header = raw[0]
    compressed = header >= 31
    r, s = int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big")
    try:
        public = ecdsa_raw_recover(legacy_message_hash(message), ((header - 27) & 3, r, s))
    except Exception:
        raise BadSignature("no public key can be recovered from this signature") from None
    key = compress(public) if compressed else b"\x04" + public
    if kind == "p2wpkh" and not compressed:
        raise BadSignature("a segwit address signs with a compressed key")
    if hash160(key) != key_hash:
        raise BadSignature("the message was signed by another key")


# --- Bitcoin: BIP-322 simple, P2WPKH --------------------------------------------------------------


def bip322_message_hash(message: str) -> bytes:
    tag = hashlib.sha256(b"BIP0322-signed-message").digest()
    return hashlib.sha256(tag + tag + message.encode()).digest()


def bip322_to_spend(message: str, script_pubkey: bytes) -> bytes:
    """The serialized virtual `to_spend` transaction (no witness)."""
    script_sig = b"\x00\x20" + bip322_message_hash(message)
    return (
        (0).to_bytes(4, "little")
        + b"\x01"
        + b"\x00" * 32
        + b"\xff\xff\xff\xff"
        + varint(len(script_sig))
        + script_sig
        + b"\x00\x00\x00\x00"
        + b"\x01"
        + (0).to_bytes(8, "little")
        + varint(len(script_pubkey))
        + script_pubkey
        + (0).to_bytes(4, "little")
    )


def bip322_to_sign(to_spend_hash: bytes) -> bytes:
    """The serialized virtual `to_sign` transaction without its witness."""
    return (
        (0).to_bytes(4, "little")
        + b"\x01"
        + to_spend_hash
        + b"\x00\x00\x00\x00"
        + b"\x00"
        + b"\x00\x00\x00\x00"
        + b"\x01"
        + (0).to_bytes(8, "little")
        + b"\x01\x6a"
        + (0).to_bytes(4, "little")
    )


def bip143_sighash_p2wpkh(to_spend_hash: bytes, key_hash: bytes) -> bytes:
    """BIP-143 SIGHASH_ALL digest of `to_sign`'s only input (spending 0 satoshis of to_spend:0)."""
    outpoint = to_spend_hash + (0).to_bytes(4, "little")
    sequence = (0).to_bytes(4, "little")
    script_code = b"\x19\x76\xa9\x14" + key_hash + b"\x88\xac"
    outputs = (0).to_bytes(8, "little") + b"\x01\x6a"
    preimage = (
        (0).to_bytes(4, "little")
        + sha256d(outpoint)
        + sha256d(sequence)
        + outpoint
        + script_code
        + (0).to_bytes(8, "little")
        + sequence
        + sha256d(outputs)
        + (0).to_bytes(4, "little")
        + SIGHASH_ALL.to_bytes(4, "little")
    )
    return sha256d(preimage)


def witness_items(raw: bytes) -> list[bytes]:
    items, pos = [], 1
    if not raw:
        raise BadSignature("the signature is empty")
    for _ in range(raw[0]):
        if pos >= len(raw):
            raise BadSignature("the witness is truncated")
        size = raw[pos]
        items.append(raw[pos + 1 : pos + 1 + size])
        pos += 1 + size
    if pos != len(raw) or any(len(item) == 0 for item in items):
        raise BadSignature("the witness is malformed")
    return items


def parse_der(sig: bytes) -> tuple[int, int]:
    """(r, s) of a strictly DER-encoded ECDSA signature with a low S."""
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2 or sig[2] != 0x02:
        raise BadSignature("the signature is not strict DER")
    r_len = sig[3]
    r_bytes = sig[4 : 4 + r_len]
    if 4 + r_len + 2 > len(sig) or sig[4 + r_len] != 0x02:
        raise BadSignature("the signature is not strict DER")
    s_len = sig[5 + r_len]
    s_bytes = sig[6 + r_len : 6 + r_len + s_len]
    if 6 + r_len + s_len != len(sig) or not r_bytes or not s_bytes:
        raise BadSignature("the signature is not strict DER")
    for part in (r_bytes, s_bytes):
        if part[0] & 0x80 or (len(part) > 1 and part[0] == 0 and not part[1] & 0x80):
            raise BadSignature("the signature is not strict DER")
    r, s = int.from_bytes(r_bytes, "big"), int.from_bytes(s_bytes, "big")
    if not (0 < r < SECP256K1_N and 0 < s <= SECP256K1_N // 2):
        raise BadSignature("the signature's S value is not low")
    return r, s


def verify_bip322_simple(address: str, message: str, signature: str, network: BitcoinNetwork) -> None:
    kind, key_hash = key_hash_of(address, network)
    if kind != "p2wpkh":
        raise BadSignature("BIP-322 simple signatures are checked for P2WPKH addresses; use legacy for 1...")
    items = witness_items(decode_base64(signature))
    if len(items) != 2 or len(items[1]) != 33 or items[1][0] not in (2, 3):
        raise BadSignature("a P2WPKH witness is a signature and a compressed public key")
    sig, public = items
    if sig[-1] != SIGHASH_ALL:
        raise BadSignature("BIP-322 signatures must use SIGHASH_ALL")
    if hash160(public) != key_hash:
        raise BadSignature("the message was signed by another key")
    r, s = parse_der(sig[:-1])
    to_spend_hash = sha256d(bip322_to_spend(message, address_to_script(address, network)))
    digest = bip143_sighash_p2wpkh(to_spend_hash, key_hash)
    try:
        valid = ecdsa_raw_verify(digest, (r, s), decompress_public_key(public))
    except Exception:
        valid = False
    if not valid:
        raise BadSignature("the signature does not verify for this message")
