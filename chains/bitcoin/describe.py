"""A plain-dict description of a raw Bitcoin transaction, and which output each token payload goes to."""

from __future__ import annotations

from typing import Any

from bitcoin.core import CTransaction, Hash160

from chains.bitcoin.address import address_to_script, script_to_address
from chains.bitcoin.network import NETWORKS, network_by_name
from chains.bitcoin.parse import parse_tx, txid
from chains.bitcoin.tokens import detect_tokens
from chains.bitcoin.tokens.counterparty import destination_output
from chains.bitcoin.tokens.script import ScriptError, instructions

# Omni's marker address; Omni Core never takes it as the reference (recipient) output
EXODUS_SCRIPTS = frozenset(
    {
        address_to_script("1EXoDusjGwvnjZUyKkxZ4UHEf77z6A5S4P", NETWORKS["bitcoin"]),
        address_to_script("mpexoDuSkGGqvqrkrjiFng38QPkJQVFyqv", NETWORKS["bitcoin-testnet"]),
    }
)


def describe_tx(raw: bytes | str, network_name: str = "bitcoin") -> dict[str, Any]:
    """{"network", "txid", "outputs": [{"n", "address", "value"}], "tokens"}; raises MalformedData."""
    network = network_by_name(network_name)
    tx = parse_tx(raw)
    return {
        "network": network.name,
        "txid": txid(tx),
        "outputs": [
            {"n": n, "address": script_to_address(bytes(out.scriptPubKey), network), "value": out.nValue}
            for n, out in enumerate(tx.vout)
        ],
        "tokens": detect_tokens(tx),
    }


def tokens_by_output(tx: CTransaction) -> dict[int, list[dict[str, Any]]]:
    """For each output, the token payloads the transaction may send to it (outputs with none are absent).

    Runes: edict outputs, plus the pointer or else the first non-OP_RETURN output (unallocated runes);
    a cenotaph burns its runes and goes nowhere. Inscription: output 0 (ord's first-sat rule when the
    inscribed input is the first one; later inputs would need their prevout values). Omni: the reference
    output. Counterparty: the destination output, when there is one.
    """
    mapping: dict[int, list[dict[str, Any]]] = {}
    for token in detect_tokens(tx):
        for n in sorted(_outputs_of(tx, token)):
            mapping.setdefault(n, []).append(token)
    return mapping


def _outputs_of(tx: CTransaction, token: dict[str, Any]) -> set[int]:
    protocol = token["protocol"]
    if protocol == "runes":
        return _rune_outputs(tx, token)
    if protocol == "inscription":
        return {0} if tx.vout else set()
    if protocol == "omni":
        reference = omni_reference_output(tx)
        return set() if reference is None else {reference}
    if protocol == "counterparty":
        destination = destination_output(tx)
        return set() if destination is None else {destination}
    return set()  # a bare rune commitment carries nothing to an output


def _rune_outputs(tx: CTransaction, runestone: dict[str, Any]) -> set[int]:
    if runestone["cenotaph"]:
        return set()
    spendable = [n for n, out in enumerate(tx.vout) if out.scriptPubKey[:1] != b"\x6a"]
    outputs: set[int] = set()
    for edict in runestone["edicts"]:
        # an edict to output == number of outputs splits its amount over every non-OP_RETURN output
        outputs.update(spendable if edict["output"] == len(tx.vout) else [edict["output"]])
    if runestone["pointer"] is not None:
        outputs.add(runestone["pointer"])
    elif spendable:
        outputs.add(spendable[0])
    return {n for n in outputs if n in spendable}


def omni_reference_output(tx: CTransaction) -> int | None:
    """Omni Core's reference output: the only candidate, else the last one, skipping the first change.

    Candidates are outputs with an address other than Exodus. Omni Core knows the sender from the spent
    outputs; from the transaction alone the sender is read from the first input's signature data.
    """
    candidates = [
        n
        for n, out in enumerate(tx.vout)
        if _has_address(bytes(out.scriptPubKey)) and bytes(out.scriptPubKey) not in EXODUS_SCRIPTS
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    sender = sender_script(tx)
    change_skipped = False
    reference = None
    for n in candidates:
        if not change_skipped and bytes(tx.vout[n].scriptPubKey) == sender:
            change_skipped = True
            continue
        reference = n
    return reference


def _has_address(script: bytes) -> bool:
    return script_to_address(script, NETWORKS["bitcoin"]) is not None


def sender_script(tx: CTransaction) -> bytes | None:
    """The output script the first input spent, where its scriptSig or witness reveals it."""
    if not tx.vin or tx.is_coinbase():
        return None
    stack = tx.wit.vtxinwit[0].scriptWitness.stack if tx.wit.vtxinwit else ()
    try:
        pushes = [push for _, push in instructions(bytes(tx.vin[0].scriptSig))]
    except ScriptError:
        return None
    if not pushes and len(stack) == 2 and len(stack[1]) == 33:
        return b"\x00\x14" + Hash160(stack[1])  # P2WPKH
    if not pushes or any(push is None for push in pushes):
        return None
    last: bytes = pushes[-1]  # type: ignore[assignment]
    if len(pushes) == 2 and len(last) in (33, 65) and last[0] in (2, 3, 4):
        return b"\x76\xa9\x14" + Hash160(last) + b"\x88\xac"  # P2PKH
    return b"\xa9\x14" + Hash160(last) + b"\x87"  # P2SH: the last push is the redeem script
