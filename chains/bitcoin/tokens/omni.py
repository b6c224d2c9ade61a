"""Omni Layer Class C: an OP_RETURN payload after the marker b"omni" (version, type, then its fields)."""

from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from chains.bitcoin.tokens.script import OP_RETURN, pushes_after_op_return

MARKER = b"omni"
TYPE_SIMPLE_SEND = 0
INT64_MAX = 2**63 - 1  # Omni amounts are signed 64-bit: larger values make the transaction invalid


def omni_payload(tx: CTransaction) -> bytes | None:
    """The payload (marker stripped) of the first OP_RETURN whose first push starts with b"omni"."""
    for out in tx.vout:
        script = out.scriptPubKey
        if not script or script[0] != OP_RETURN or MARKER not in script:
            continue
        pushes = pushes_after_op_return(script)
        if pushes and pushes[0][:4] == MARKER:
            # Omni Core concatenates every push of the output, the marker being the start of the first
            return b"".join(pushes)[4:]
    return None


def decode_omni(tx: CTransaction) -> dict[str, Any] | None:
    """The Omni transaction carried by `tx`, or None when there is no Class C marker.

    A payload Omni Core would reject (too short, an amount out of range) is reported with "malformed".
    """
    payload = omni_payload(tx)
    if payload is None:
        return None
    if len(payload) < 4:
        return {"protocol": "omni", "type": None, "malformed": True}
    version = int.from_bytes(payload[0:2], "big")
    kind = int.from_bytes(payload[2:4], "big")
    if kind != TYPE_SIMPLE_SEND:
        return {"protocol": "omni", "type": kind}
    # simple send: version 0, property id u32, amount u64; Omni Core ignores bytes after them
    if version != 0 or len(payload) < 16:
        return {"protocol": "omni", "type": kind, "malformed": True}
    property_id = int.from_bytes(payload[4:8], "big")
    amount = int.from_bytes(payload[8:16], "big")
    if property_id == 0 or not 0 < amount <= INT64_MAX:
        return {"protocol": "omni", "type": kind, "malformed": True}
    return {"protocol": "omni", "property_id": property_id, "amount": amount}
