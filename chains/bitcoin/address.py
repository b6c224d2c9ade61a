"""Bitcoin addresses: output script <-> address for P2PKH, P2SH and segwit v0/v1+, and validation."""

from __future__ import annotations

import hashlib

import bech32m
from bech32m import codecs
from bitcoin import base58  # python-bitcoinlib's (the checksum stays ours: it is one line)

from chains.base import InvalidAddress
from chains.bitcoin.network import BitcoinNetwork

_BECH32_MAX_LENGTH = 90  # BIP-173

OP_0, OP_1, OP_16 = 0x00, 0x51, 0x60
OP_DUP, OP_HASH160, OP_EQUAL, OP_EQUALVERIFY, OP_CHECKSIG = 0x76, 0xA9, 0x87, 0x88, 0xAC


# --- output script -> address -------------------------------------------------------------------


def script_to_address(script: bytes, network: BitcoinNetwork) -> str | None:
    """The address an output script pays to, or None for OP_RETURN, bare multisig and non-standard scripts."""
    n = len(script)
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return _base58check(bytes([network.p2pkh_version]) + script[3:23])
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == OP_EQUAL:
        return _base58check(bytes([network.p2sh_version]) + script[2:22])
    witness = _witness_program(script)
    if witness is None:
        return None
    version, program = witness
    try:
        return bech32m.encode(network.hrp, version, program)
    except bech32m.DecodeError:
        return None  # a program length no address can carry (e.g. v0 with 25 bytes)


def _witness_program(script: bytes) -> tuple[int, bytes] | None:
    """BIP-141: a version opcode then one direct push of 2..40 bytes, nothing else."""
    if not 4 <= len(script) <= 42 or script[1] != len(script) - 2:
        return None
    op = script[0]
    if op == OP_0:
        return 0, bytes(script[2:])
    if OP_1 <= op <= OP_16:
        return op - OP_1 + 1, bytes(script[2:])
    return None


def _base58check(payload: bytes) -> str:
    return base58.encode(payload + _checksum(payload))


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


# --- address -> output script -------------------------------------------------------------------


def address_to_script(address: str, network: BitcoinNetwork) -> bytes:
    """The output script paying to `address` on `network`; raises InvalidAddress."""
    if not isinstance(address, str):
        raise InvalidAddress("an address must be text")
    text = address.strip()
    if not text:
        raise InvalidAddress("the address is empty")
    if _looks_bech32(text, network):
        version, program = _decode_segwit(text, network)
        return bytes([OP_0 if version == 0 else OP_1 + version - 1, len(program)]) + program
    version, body = _decode_base58check(text)
    if version == network.p2pkh_version:
        return b"\x76\xa9\x14" + body + b"\x88\xac"
    if version == network.p2sh_version:
        return b"\xa9\x14" + body + b"\x87"
    raise InvalidAddress(f"version byte 0x{version:02x} is not a {network.name} P2PKH or P2SH address")


def normalize_address(address: str, network: BitcoinNetwork) -> str:
    """The canonical form of a valid address (bech32 in lower case); raises InvalidAddress."""
    script = address_to_script(address, network)
    canonical = script_to_address(script, network)
    if canonical is None:  # cannot happen for a script built above; kept as a guard, not a path
        raise InvalidAddress("the address does not map to a standard output script")
    return canonical


def _looks_bech32(text: str, network: BitcoinNetwork) -> bool:
    """Bech32 when the hrp is a Bitcoin one or a character base58 never uses is present (clearer errors)."""
    lower = text.lower()
    if "1" not in lower[1:]:
        return False
    if lower[: lower.rfind("1")] in {"bc", "tb", "bcrt", network.hrp}:
        return True
    single_case = text in (lower, text.upper())
    return single_case and any(c in text for c in "0OIl")


def _decode_segwit(text: str, network: BitcoinNetwork) -> tuple[int, bytes]:
    if text.lower() != text and text.upper() != text:
        raise InvalidAddress("a bech32 address must not mix upper and lower case")
    if len(text) > _BECH32_MAX_LENGTH:
        raise InvalidAddress(f"a bech32 address has at most {_BECH32_MAX_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise InvalidAddress("the address holds a character outside printable ASCII")
    lower = text.lower()
    pos = lower.rfind("1")
    hrp, data_part = lower[:pos], lower[pos + 1 :]
    if not hrp:
        raise InvalidAddress("the bech32 human-readable part is empty")
    if len(data_part) < 6:
        raise InvalidAddress("the bech32 checksum is too short")
    bad = [c for c in data_part if c not in codecs.CHARSET]
    if bad:
        raise InvalidAddress(f"character {bad[0]!r} is not in the bech32 alphabet")
    if hrp != network.hrp:
        raise InvalidAddress(f"prefix {hrp!r} is not {network.name}'s {network.hrp!r}")
    data = bytes(codecs.CHARSET.find(c) for c in data_part)
    try:
        encoding = codecs.bech32_verify_checksum(hrp, data)
    except codecs.DecodeError:
        raise InvalidAddress("wrong bech32/bech32m checksum") from None
    if len(data) < 7:
        raise InvalidAddress("the address has no witness version")
    version = data[0]
    if version > 16:
        raise InvalidAddress(f"witness version {version} is above 16")
    try:
        program = bytes(codecs.convertbits(data[1:-6], 5, 8, False))
    except codecs.DecodeError:
        raise InvalidAddress("invalid padding in the bech32 data") from None
    if not 2 <= len(program) <= 40:
        raise InvalidAddress(f"a witness program has 2 to 40 bytes, not {len(program)}")
    if version == 0 and len(program) not in (20, 32):
        raise InvalidAddress(f"a version 0 witness program has 20 or 32 bytes, not {len(program)}")
    if version == 0 and encoding is not codecs.Encoding.BECH32:
        raise InvalidAddress("a witness version 0 address must use bech32, not bech32m (BIP-350)")
    if version != 0 and encoding is not codecs.Encoding.BECH32M:
        raise InvalidAddress(f"a witness version {version} address must use bech32m, not bech32 (BIP-350)")
    return version, program


def _decode_base58check(text: str) -> tuple[int, bytes]:
    bad = [c for c in text if c not in base58.B58_DIGITS]
    if bad:
        raise InvalidAddress(f"character {bad[0]!r} is not in the base58 alphabet")
    if len(text) > 50:  # a 25-byte payload never needs more than 35 characters
        raise InvalidAddress("the base58 address is too long")
    data = base58.decode(text)
    if len(data) != 25:
        raise InvalidAddress(f"a base58 address decodes to 25 bytes, not {len(data)}")
    payload, checksum = data[:-4], data[-4:]
    if _checksum(payload) != checksum:
        raise InvalidAddress("wrong base58 checksum")
    return payload[0], payload[1:]
