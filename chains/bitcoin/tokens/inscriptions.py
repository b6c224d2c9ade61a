"""Ordinals inscriptions: ord envelopes (OP_FALSE OP_IF "ord" ... OP_ENDIF) in taproot script-path spends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from bitcoin.core import CTransaction

from chains.bitcoin.tokens.script import (
    ScriptError,
)

PROTOCOL_ID = b"ord"
TAG_CONTENT_TYPE = b"\x01"
TAG_METAPROTOCOL = b"\x07"
TAG_DELEGATE = b"\x0b"
TAG_RUNE = b"\x0d"
TAPROOT_ANNEX_PREFIX = 0x50


class Envelope(NamedTuple):
    """One ord envelope: its input, its fields (first value of each tag) and whether it has a body.

    A NamedTuple, not a frozen dataclass: a batch inscription makes thousands and creation cost shows.
    """

    input: int
    fields: dict[bytes, bytes]
    has_body: bool


def tapscript(stack: Sequence[bytes]) -> bytes | None:
    """BIP-341's script-path script: second-to-last witness item, third-to-last when an annex is present.

    Like rust-bitcoin's Witness::tapscript (which ord uses) this does not know the spent output's type.
    """
    if len(stack) >= 3 and stack[-1][:1] == b"\x50":
        return stack[-3]
    if len(stack) >= 2:
        return stack[-2]
    return None


def candidate_scripts(tx: CTransaction) -> list[tuple[int, bytes]]:
    """(input, tapscript) of the inputs whose tapscript holds b"ord": the only ones worth scanning."""
    found = []
    for index, witness in enumerate(tx.wit.vtxinwit):
        script = tapscript(witness.scriptWitness.stack)
        if script is not None and PROTOCOL_ID in script:
            found.append((index, script))
    return found


def envelopes(tx: CTransaction, scripts: list[tuple[int, bytes]] | None = None) -> list[Envelope]:
    """Every ord envelope in the transaction's inputs, in input then script order."""
    found: list[Envelope] = []
    for index, script in candidate_scripts(tx) if scripts is None else scripts:
        try:
            found.extend(_from_tapscript(script, index))
        except ScriptError:
            continue  # ord drops every envelope of an input whose tapscript does not parse
    return found


def _from_tapscript(script: bytes, index: int) -> list[Envelope]:
    """ord's envelope scan in one pass: OP_FALSE OP_IF "ord" <pushes...> OP_ENDIF, anywhere in the script.

    A state machine rather than a list of instructions, because batch inscriptions hold thousands of
    envelopes and this runs on every inscription in a block (opcodes are literals here for speed:
    0x4e OP_PUSHDATA4, 0x4c OP_PUSHDATA1, 0x63 OP_IF, 0x68 OP_ENDIF, 0x4f OP_1NEGATE, 0x51-0x60 OP_1-16).
    Raises ScriptError on a truncated push.
    """
    found: list[Envelope] = []
    state = 0  # 0 scanning, 1 after OP_FALSE, 2 after OP_IF, 3 inside an envelope
    payload: list[bytes] = []
    i, n = 0, len(script)
    while i < n:
        op = script[i]
        i += 1
        if op > 0x4E:  # an opcode, not a push
            if state == 3:
                if op == 0x68:
                    found.append(_parsed(payload, index))
                    state = 0
                elif op == 0x4F:
                    payload.append(b"\x81")
                elif 0x51 <= op <= 0x60:
                    payload.append(bytes((op - 0x50,)))
                else:
                    state = 0  # any other opcode voids the envelope
            else:
                state = 2 if state == 1 and op == 0x63 else 0
            continue
        if op < 0x4C:
            size = op
        else:
            width = 1 << (op - 0x4C)  # 1, 2 or 4 length bytes
            if i + width > n:
                raise ScriptError("truncated push length")
            size = int.from_bytes(script[i : i + width], "little")
            i += width
        end = i + size
        if end > n:
            raise ScriptError("push runs past the end of the script")
        if state == 3:
            payload.append(script[i:end])
        elif state == 2 and size == 3 and script[i:end] == b"ord":
            state, payload = 3, []
        else:
            state = 1 if size == 0 else 0
        i = end
    return found


def _parsed(payload: list[bytes], index: int) -> Envelope:
    """Tag/value pairs up to the body, which starts at the first empty push in a tag (even) position.

    The first value of a repeated tag wins, and a tag without a value is ignored, as in ord.
    """
    if len(payload) >= 3 and payload[0] == b"\x01" and payload[2] == b"":
        # the usual shape (content type, then the body) decided without the loop below
        return Envelope(index, {b"\x01": payload[1]}, True)
    fields: dict[bytes, bytes] = {}
    last = len(payload) - 1
    for k in range(0, len(payload), 2):
        tag = payload[k]
        if not tag:
            return Envelope(input=index, fields=fields, has_body=True)
        if k < last and tag not in fields:
            fields[tag] = payload[k + 1]
    return Envelope(input=index, fields=fields, has_body=False)


def decode_inscriptions(tx: CTransaction, parsed: list[Envelope] | None = None) -> list[dict[str, Any]]:
    """Inscriptions, and bare rune commitments: an envelope whose only content is the rune field.

    An envelope with a content type, a body or a delegate is an inscription (content_type may be None);
    one with the rune tag and none of those only commits to a rune name for an etching and carries no
    inscription content, so it is reported as {"protocol": "rune-commitment", "input": n}.
    """
    found = []
    for envelope in envelopes(tx) if parsed is None else parsed:
        content_type = envelope.fields.get(TAG_CONTENT_TYPE)
        has_content = content_type is not None or envelope.has_body or TAG_DELEGATE in envelope.fields
        if not has_content and TAG_RUNE in envelope.fields:
            found.append({"protocol": "rune-commitment", "input": envelope.input})
            continue
        found.append(
            {"protocol": "inscription", "input": envelope.input, "content_type": _text(content_type)}
        )
    return found


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None  # ord reports no content type when it is not UTF-8
