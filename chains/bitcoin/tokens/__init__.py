"""Token protocols riding on Bitcoin transactions (Omni, Runes, inscriptions, Counterparty)."""

from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction

from chains.bitcoin.tokens.counterparty import decode_counterparty
from chains.bitcoin.tokens.inscriptions import candidate_scripts, decode_inscriptions, envelopes
from chains.bitcoin.tokens.omni import decode_omni
from chains.bitcoin.tokens.runes import decode_runestone

OP_RETURN_BYTE = b"\x6a"
CHECKMULTISIG_BYTE = b"\xae"


def detect_tokens(tx: CTransaction) -> list[dict[str, Any]]:
    """Every token payload in `tx`, in a fixed order: omni, runes, inscriptions by input, counterparty.

    Never raises on malformed payloads: they come back as cenotaphs or "malformed" entries.
    """
    has_op_return = has_multisig = False
    for out in tx.vout:
        script = out.scriptPubKey
        if script[:1] == OP_RETURN_BYTE:
            has_op_return = True
        elif script[-1:] == CHECKMULTISIG_BYTE:
            has_multisig = True
    scripts = candidate_scripts(tx) if tx.wit.vtxinwit else []
    if not (has_op_return or has_multisig or scripts):
        return []  # the common case: a plain payment, decided without decoding anything

    found: list[dict[str, Any]] = []
    if has_op_return:
        omni = decode_omni(tx)
        if omni is not None:
            found.append(omni)
        runestone = decode_runestone(tx)
        if runestone is not None:
            found.append(runestone)
    parsed = envelopes(tx, scripts) if scripts else []
    found.extend(decode_inscriptions(tx, parsed))
    found.extend(decode_counterparty(tx, parsed, check_outputs=has_op_return or has_multisig))
    return found
