"""Counterparty: ARC4-encrypted b"CNTRPRTY" data in OP_RETURN or bare multisig, and its ord "xcp" envelope."""

from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from chains.bitcoin.tokens.inscriptions import TAG_METAPROTOCOL, Envelope, envelopes
from chains.bitcoin.tokens.script import OP_1, OP_16, OP_CHECKMULTISIG, OP_RETURN, ScriptError, instructions

PREFIX = b"CNTRPRTY"
XCP_METAPROTOCOL = b"xcp"


class Keystream:
    """ARC4 keyed with the first input's prevout txid (display order), generated only as far as needed.

    Counterparty restarts the cipher for every output, so one keystream serves them all.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._bytes = bytearray()
        self._state: list[int] | None = None
        self._i = self._j = 0

    def decrypt(self, data: bytes) -> bytes:
        self._extend(len(data))
        return bytes(a ^ b for a, b in zip(data, self._bytes, strict=False))

    def _extend(self, size: int) -> None:
        if self._state is None:
            self._state = _schedule(self._key)
        s, i, j = self._state, self._i, self._j
        out = self._bytes
        while len(out) < size:
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out.append(s[(s[i] + s[j]) & 0xFF])
        self._i, self._j = i, j


def _schedule(key: bytes) -> list[int]:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    return s


def keystream_for(tx: CTransaction) -> Keystream | None:
    if not tx.vin or tx.is_coinbase():
        return None
    return Keystream(bytes(tx.vin[0].prevout.hash[::-1]))


def data_outputs(tx: CTransaction, keystream: Keystream) -> list[tuple[int, str]]:
    """(output index, "opreturn" | "multisig") of every output holding Counterparty data."""
    found = []
    for n, out in enumerate(tx.vout):
        script = bytes(out.scriptPubKey)
        if script[:1] == bytes([OP_RETURN]):
            push = _single_push(script)
            if push is not None and keystream.decrypt(push[: len(PREFIX)]) == PREFIX:
                found.append((n, "opreturn"))
        elif script[-1:] == bytes([OP_CHECKMULTISIG]):
            chunk = _multisig_data(script)
            # a data chunk is <length byte> PREFIX ...; the length byte itself is encrypted too
            if chunk is not None and keystream.decrypt(chunk[: 1 + len(PREFIX)])[1:] == PREFIX:
                found.append((n, "multisig"))
    return found


def _single_push(script: bytes) -> bytes | None:
    try:
        items = instructions(script, 1)
    except ScriptError:
        return None
    if len(items) != 1 or items[0][1] is None:
        return None
    return items[0][1]


def _multisig_data(script: bytes) -> bytes | None:
    """The data bytes of a 1-of-2 / 1-of-3 bare multisig: each fake key minus sign and nonce bytes."""
    try:
        items = instructions(script)
    except ScriptError:
        return None
    if len(items) not in (5, 6) or items[0] != (OP_1, None):
        return None
    keys = [push for _, push in items[1:-2]]
    total = items[-2][0]
    if items[-2][1] is not None or not OP_1 <= total <= OP_16 or total - OP_1 + 1 != len(keys):
        return None
    if any(key is None or len(key) not in (33, 65) for key in keys):
        return None
    return b"".join(key[1:-1] for key in keys[:-1])  # type: ignore[index]  # the last key is real


def decode_counterparty(
    tx: CTransaction, parsed: list[Envelope] | None = None, *, check_outputs: bool = True
) -> list[dict[str, Any]]:
    """One entry per encoding found: {"protocol": "counterparty", "encoding": "opreturn"|"multisig"|...}.

    The encodings are "opreturn", "multisig" and "taproot" (an ord envelope with metaprotocol "xcp").
    `parsed` and `check_outputs` let detect_tokens share work it has already done.
    """
    found: list[dict[str, Any]] = []
    keystream = keystream_for(tx) if check_outputs else None
    if keystream is not None and _has_candidate_output(tx):
        encodings = {encoding for _, encoding in data_outputs(tx, keystream)}
        found.extend({"protocol": "counterparty", "encoding": e} for e in sorted(encodings))
    for envelope in envelopes(tx) if parsed is None else parsed:
        if envelope.fields.get(TAG_METAPROTOCOL) == XCP_METAPROTOCOL:
            found.append({"protocol": "counterparty", "encoding": "taproot"})
            break
    return found


def _has_candidate_output(tx: CTransaction) -> bool:
    return any(out.scriptPubKey[:1] == b"\x6a" or out.scriptPubKey[-1:] == b"\xae" for out in tx.vout)


def destination_output(tx: CTransaction) -> int | None:
    """Counterparty's destination: the first output, when it comes before every data output."""
    keystream = keystream_for(tx)
    if keystream is None or not tx.vout:
        return None
    data = {n for n, _ in data_outputs(tx, keystream)}
    if not data or 0 in data or tx.vout[0].scriptPubKey[:1] == b"\x6a":
        return None
    return 0
