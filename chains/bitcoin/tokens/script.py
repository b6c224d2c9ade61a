"""Script instructions as token decoders read them: pushes and opcodes, stopping at a truncated push."""

from __future__ import annotations

OP_0 = 0x00
OP_PUSHDATA1, OP_PUSHDATA2, OP_PUSHDATA4 = 0x4C, 0x4D, 0x4E
OP_1NEGATE, OP_1, OP_16 = 0x4F, 0x51, 0x60
OP_IF, OP_ENDIF, OP_RETURN, OP_CHECKMULTISIG = 0x63, 0x68, 0x6A, 0xAE

# (opcode, pushed bytes) for a push, (opcode, None) for any other opcode
Instruction = tuple[int, bytes | None]


class ScriptError(ValueError):
    """A push runs past the end of the script (rust-bitcoin's EarlyEndOfScript)."""


def instructions(script: bytes, start: int = 0) -> list[Instruction]:
    """Every instruction from `start`, as rust-bitcoin's non-minimal `instructions()` reads them.

    Raises ScriptError where a push is truncated; callers that follow ord decide what that means.
    """
    out: list[Instruction] = []
    i, n = start, len(script)
    while i < n:
        op = script[i]
        i += 1
        if op > OP_PUSHDATA4:
            out.append((op, None))
            continue
        if op < OP_PUSHDATA1:
            size = op
        else:
            width = 1 if op == OP_PUSHDATA1 else 2 if op == OP_PUSHDATA2 else 4
            if i + width > n:
                raise ScriptError("truncated push length")
            size = int.from_bytes(script[i : i + width], "little")
            i += width
        if i + size > n:
            raise ScriptError("push runs past the end of the script")
        out.append((op, bytes(script[i : i + size])))
        i += size
    return out


def pushes_after_op_return(script: bytes) -> list[bytes] | None:
    """The data pushes of an OP_RETURN script, or None when it holds a non-push opcode or a bad push."""
    try:
        found = instructions(script, 1)
    except ScriptError:
        return None
    data = [push for _, push in found]
    if any(push is None for push in data):
        return None
    return data  # type: ignore[return-value]
