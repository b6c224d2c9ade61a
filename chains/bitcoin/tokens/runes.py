"""Runes: decipher a runestone (OP_RETURN OP_13 ...) as ord's runestone.rs does, cenotaphs included."""

from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from chains.bitcoin.tokens.script import OP_RETURN, ScriptError, instructions

OP_13 = 0x5D
U32_MAX, U64_MAX = 2**32 - 1, 2**64 - 1
U128_MAX = 2**128 - 1

TAG_BODY, TAG_DIVISIBILITY, TAG_FLAGS, TAG_SPACERS, TAG_RUNE, TAG_SYMBOL = 0, 1, 2, 3, 4, 5
TAG_PREMINE, TAG_CAP, TAG_AMOUNT, TAG_HEIGHT_START, TAG_HEIGHT_END = 6, 8, 10, 12, 14
TAG_OFFSET_START, TAG_OFFSET_END, TAG_MINT, TAG_POINTER = 16, 18, 20, 22
FLAG_ETCHING, FLAG_TERMS, FLAG_TURBO = 1 << 0, 1 << 1, 1 << 2
MAX_DIVISIBILITY, MAX_SPACERS = 38, 0x07FF_FFFF


class Cenotaph(Exception):
    """The runestone is malformed: every rune input to the transaction is burned."""


def runestone_payload(tx: CTransaction) -> bytes | None:
    """The concatenated pushes of the first OP_RETURN OP_13 output; None if there is none.

    Raises Cenotaph for a non-push opcode or a truncated push after the magic number.
    """
    for out in tx.vout:
        script = out.scriptPubKey
        # ord skips outputs whose first two instructions are not exactly OP_RETURN, OP_13
        if len(script) < 2 or script[0] != OP_RETURN or script[1] != OP_13:
            continue
        try:
            found = instructions(script, 2)
        except ScriptError:
            raise Cenotaph("invalid script") from None
        if any(push is None for _, push in found):
            raise Cenotaph("opcode in the runestone")
        return b"".join(push for _, push in found)  # type: ignore[misc]
    return None


def leb128_integers(payload: bytes) -> list[int]:
    """u128 LEB128 integers; raises Cenotaph on an unterminated, overlong or overflowing varint."""
    integers = []
    value = shift = 0
    for byte in payload:
        if shift == 18 * 7 and byte & 0x7C:  # the 19th byte may carry only 2 more bits of a u128
            raise Cenotaph("varint overflow")
        if shift > 18 * 7:
            raise Cenotaph("varint overlong")
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            continue
        integers.append(value)
        value = shift = 0
    if shift:
        raise Cenotaph("varint unterminated")
    return integers


def decode_runestone(tx: CTransaction) -> dict[str, Any] | None:
    """The runestone of `tx` in the project's token shape, or None when the transaction has none."""
    try:
        payload = runestone_payload(tx)
        if payload is None:
            return None
        integers = leb128_integers(payload)
    except Cenotaph:
        return _cenotaph(etching=False, mint=None)
    return _message(tx, integers)


def _message(tx: CTransaction, integers: list[int]) -> dict[str, Any]:
    fields: dict[int, list[int]] = {}
    edicts: list[dict[str, Any]] = []
    flawed = False
    for i in range(0, len(integers), 2):
        tag = integers[i]
        if tag == TAG_BODY:
            edicts, flawed = _edicts(integers[i + 1 :], len(tx.vout))
            break
        if i + 1 >= len(integers):
            flawed = True  # truncated field
            break
        fields.setdefault(tag, []).append(integers[i + 1])

    flags = _take(fields, TAG_FLAGS, lambda v: v) or 0
    etching = bool(flags & FLAG_ETCHING)
    flags &= ~FLAG_ETCHING
    rune = None
    if etching:
        rune, supply_ok = _etching_fields(fields, flags)
        flags &= ~(FLAG_TERMS | FLAG_TURBO)
        flawed = flawed or not supply_ok
    mint = _take(fields, TAG_MINT, _rune_id, count=2)
    pointer = _take(fields, TAG_POINTER, lambda v: v if v <= U32_MAX and v < len(tx.vout) else None)
    if flags or any(tag % 2 == 0 for tag in fields):
        flawed = True  # unrecognised flag or even tag
    if flawed:
        return _cenotaph(etching=rune is not None, mint=mint)
    return {
        "protocol": "runes",
        "cenotaph": False,
        "etching": etching,
        "mint": mint,
        "edicts": edicts,
        "pointer": pointer,
    }


def _edicts(integers: list[int], outputs: int) -> tuple[list[dict[str, Any]], bool]:
    edicts = []
    block = tx_index = 0
    for i in range(0, len(integers), 4):
        chunk = integers[i : i + 4]
        if len(chunk) != 4:
            return edicts, True  # trailing integers
        delta_block, delta_tx, amount, output = chunk
        if delta_block > U64_MAX or block + delta_block > U64_MAX:
            return edicts, True  # edict rune id overflow
        if delta_block == 0:
            if delta_tx > U32_MAX or tx_index + delta_tx > U32_MAX:
                return edicts, True
            tx_index += delta_tx
        else:
            if delta_tx > U32_MAX:
                return edicts, True
            block, tx_index = block + delta_block, delta_tx
        if block == 0 and tx_index > 0:
            return edicts, True  # ord's RuneId::new refuses block 0 with a non-zero tx: an edict flaw
        # output == len(outputs) is allowed: it splits the amount over every non-OP_RETURN output
        if output > U32_MAX or output > outputs:
            return edicts, True
        edicts.append({"id": f"{block}:{tx_index}", "amount": amount, "output": output})
    return edicts, False


def _etching_fields(fields: dict[int, list[int]], flags: int) -> tuple[int | None, bool]:
    """Consume the etching's fields as ord does; returns the rune number and whether the supply fits."""
    _take(fields, TAG_DIVISIBILITY, lambda v: v if v <= MAX_DIVISIBILITY else None)
    premine = _take(fields, TAG_PREMINE, lambda v: v) or 0
    rune = _take(fields, TAG_RUNE, lambda v: v)
    _take(fields, TAG_SPACERS, lambda v: v if v <= MAX_SPACERS else None)
    _take(fields, TAG_SYMBOL, lambda v: v if v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF else None)
    cap = amount = 0
    if flags & FLAG_TERMS:
        cap = _take(fields, TAG_CAP, lambda v: v) or 0
        for tag in (TAG_HEIGHT_START, TAG_HEIGHT_END):
            _take(fields, tag, lambda v: v if v <= U64_MAX else None)
        amount = _take(fields, TAG_AMOUNT, lambda v: v) or 0
        for tag in (TAG_OFFSET_START, TAG_OFFSET_END):
            _take(fields, tag, lambda v: v if v <= U64_MAX else None)
    return rune, premine + cap * amount <= U128_MAX and cap * amount <= U128_MAX


def _take(fields: dict[int, list[int]], tag: int, parse: Any, count: int = 1) -> Any:
    """ord's Tag::take: consume the first `count` values only when they parse; else leave them in place."""
    values = fields.get(tag)
    if values is None or len(values) < count:
        return None
    parsed = parse(*values[:count])
    if parsed is None:
        return None
    del values[:count]
    if not values:
        del fields[tag]
    return parsed


def _rune_id(block: int, tx_index: int) -> str | None:
    if block > U64_MAX or tx_index > U32_MAX or (block == 0 and tx_index > 0):
        return None
    return f"{block}:{tx_index}"


def _cenotaph(*, etching: bool, mint: str | None) -> dict[str, Any]:
    return {
        "protocol": "runes",
        "cenotaph": True,
        "etching": etching,
        "mint": mint,
        "edicts": [],
        "pointer": None,
    }
