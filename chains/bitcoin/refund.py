"""Refund builders: unsigned P2WPKH transactions returning BTC, an inscription, runes or Omni tokens.

Every input signals RBF (nSequence 0xfffffffd). The fee is a sat/vB rate times an upper-bound vsize
(72-byte signatures), so the paid rate never falls below the one asked for. Change goes to the fee wallet
and is dropped (left to the fee) when it would be dust. Token returns keep the token-bearing input first:
ord's first-sat rule puts an inscription in output 0, Omni Core takes the sender from input 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from chains.bitcoin.address import address_to_script
from chains.bitcoin.network import BitcoinNetwork
from chains.bitcoin.signer import KeyChain, PayOutput, SpendInput, UnsignedBitcoinTx

OP_RETURN, OP_13 = 0x6A, 0x5D
DUST_RELAY_SAT_PER_KVB = 3000  # Bitcoin Core's -dustrelayfee default
MAX_STANDARD_OP_RETURN_PUSH = 520
RUNES_TAG_BODY, RUNES_TAG_POINTER = 0, 22
OMNI_MARKER = b"omni"
# P2WPKH input: outpoint 36 + empty scriptSig length 1 + sequence 4 = 41 bytes; witness: item count,
# then a signature of at most 72 bytes (DER 71 + sighash byte) and a 33-byte key, each with a length byte.
P2WPKH_INPUT_BYTES = 41
P2WPKH_WITNESS_BYTES = 1 + 1 + 72 + 1 + 33


class RefundRefused(ValueError):
    """The refund cannot be built as asked (bad destination, value below dust, fee over value ...)."""


# --- sizes and dust -----------------------------------------------------------------------------


def _varint_size(n: int) -> int:
    return 1 if n < 0xFD else 3 if n <= 0xFFFF else 5


def output_size(script: bytes) -> int:
    return 8 + _varint_size(len(script)) + len(script)


def estimate_vsize(inputs: int, output_scripts: Sequence[bytes]) -> int:
    """Upper bound on the vsize of a transaction spending `inputs` P2WPKH outputs."""
    base = 4 + _varint_size(inputs) + inputs * P2WPKH_INPUT_BYTES
    base += _varint_size(len(output_scripts)) + sum(output_size(s) for s in output_scripts) + 4
    weight = base * 4 + 2 + inputs * P2WPKH_WITNESS_BYTES  # 2: segwit marker and flag
    return math.ceil(weight / 4)


def dust_threshold(script: bytes) -> int:
    """Bitcoin Core's GetDustThreshold at the default dust relay fee: 294 P2WPKH, 330 P2TR, 546 P2PKH."""
    if script[:1] == bytes([OP_RETURN]):
        return 0
    is_witness = (
        len(script) >= 4 and (script[0] == 0 or 0x51 <= script[0] <= 0x60) and script[1] == len(script) - 2
    )
    spend = 32 + 4 + 1 + (107 // 4 if is_witness else 107) + 4
    return (output_size(script) + spend) * DUST_RELAY_SAT_PER_KVB // 1000


# --- token payloads -----------------------------------------------------------------------------


def leb128(value: int) -> bytes:
    if value < 0:
        raise ValueError("LEB128 encodes non-negative integers")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def runestone_script(edicts: Sequence[tuple[str, int, int]], *, pointer: int | None = None) -> bytes:
    """OP_RETURN OP_13 <payload>: fields (pointer) first, then tag 0 and the edicts, sorted and
    delta-encoded (block delta, tx delta or tx when the block changed, amount, output), per ord's spec.

    Each edict is (rune id "block:tx", amount, output); amount 0 means all of that rune.
    """
    integers: list[int] = []
    if pointer is not None:
        integers += [RUNES_TAG_POINTER, pointer]
    if edicts:
        integers.append(RUNES_TAG_BODY)
        previous = (0, 0)
        for rune_id, amount, output in sorted(edicts, key=lambda e: _rune_id(e[0])):
            block, tx = _rune_id(rune_id)
            tx_delta = tx - previous[1] if block == previous[0] else tx
            integers += [block - previous[0], tx_delta, amount, output]
            previous = (block, tx)
    payload = b"".join(leb128(i) for i in integers)
    return bytes([OP_RETURN, OP_13]) + _pushes(payload)


def _rune_id(text: str) -> tuple[int, int]:
    try:
        block, tx = (int(part) for part in text.split(":"))
    except ValueError:
        raise RefundRefused(f"not a rune id (block:tx): {text!r}") from None
    if block < 0 or tx < 0 or (block == 0 and tx != 0):
        raise RefundRefused(f"not a rune id: {text!r}")
    return block, tx


def omni_simple_send_script(property_id: int, amount: int) -> bytes:
    """Class C: OP_RETURN <"omni", version 0 (u16), type 0 = simple send (u16), property u32, amount u64>."""
    if not 0 < property_id < 2**32:
        raise RefundRefused(f"Omni property id out of range: {property_id}")
    if not 0 < amount < 2**63:  # Omni Core treats amounts as signed 64-bit
        raise RefundRefused(f"Omni amount out of range: {amount}")
    payload = OMNI_MARKER + (0).to_bytes(2, "big") + (0).to_bytes(2, "big")
    payload += property_id.to_bytes(4, "big") + amount.to_bytes(8, "big")
    return bytes([OP_RETURN]) + _pushes(payload)


def _pushes(data: bytes) -> bytes:
    """Data pushes of at most 520 bytes each (OP_PUSHBYTES, OP_PUSHDATA1 or OP_PUSHDATA2)."""
    out = b""
    for start in range(0, max(len(data), 1), MAX_STANDARD_OP_RETURN_PUSH):
        chunk = data[start : start + MAX_STANDARD_OP_RETURN_PUSH]
        if len(chunk) <= 75:
            out += bytes([len(chunk)])
        elif len(chunk) <= 255:
            out += bytes([0x4C, len(chunk)])
        else:
            out += bytes([0x4D]) + len(chunk).to_bytes(2, "little")
        out += chunk
    return out


# --- builders -----------------------------------------------------------------------------------


def build_btc_return(
    *,
    network: BitcoinNetwork,
    deposit: SpendInput,
    destination: str,
    fee_rate: int,
    amount: int | None = None,
) -> UnsignedBitcoinTx:
    """Send `amount` of a deposit UTXO back (all of it by default), the mining fee taken from the amount.

    What the approved amount leaves of the deposit (the exchange's recovery fee) stays at the deposit
    address as change; below the dust limit it goes to the miners rather than to the destination.
    """
    _check_rate(fee_rate)
    _check_key(deposit, KeyChain.DEPOSIT, "deposit")
    dest = _destination(destination, network)
    amount = deposit.value if amount is None else amount
    if not 0 < amount <= deposit.value:
        raise RefundRefused(f"a return of {amount} sat from a deposit of {deposit.value} sat")
    kept = deposit.value - amount
    keeps_change = kept >= dust_threshold(deposit.script_pubkey)
    scripts = [dest, deposit.script_pubkey] if keeps_change else [dest]
    fee = fee_rate * estimate_vsize(1, scripts)
    value = amount - fee
    if value < dust_threshold(dest):
        raise RefundRefused(
            f"a return of {amount} sat does not cover the fee of {fee} sat plus the "
            f"{dust_threshold(dest)} sat dust limit of the destination"
        )
    outputs = [PayOutput(dest, value)]
    if keeps_change:
        outputs.append(PayOutput(deposit.script_pubkey, kept))
    return _unsigned(network, [deposit], outputs, fee_rate, "btc_return", {"kept": kept * keeps_change})


def build_inscription_return(
    *,
    network: BitcoinNetwork,
    inscribed: SpendInput,
    fee_utxo: SpendInput,
    destination: str,
    change_script: bytes,
    fee_rate: int,
) -> UnsignedBitcoinTx:
    """Input 0 the inscribed UTXO, output 0 the destination with that UTXO's value kept whole."""
    _check_rate(fee_rate)
    _check_key(inscribed, KeyChain.DEPOSIT, "inscribed UTXO")
    _check_key(fee_utxo, KeyChain.FEE, "fee UTXO")
    dest = _destination(destination, network)
    if inscribed.value < dust_threshold(dest):
        raise RefundRefused(
            f"the inscribed UTXO holds {inscribed.value} sat, below the destination's dust limit "
            f"{dust_threshold(dest)}: its value cannot be kept"
        )
    outputs = [PayOutput(dest, inscribed.value)]
    return _with_change(
        network, [inscribed, fee_utxo], outputs, change_script, fee_rate, "inscription_return"
    )


def build_runes_return(
    *,
    network: BitcoinNetwork,
    deposit: SpendInput,
    fee_utxo: SpendInput,
    destination: str,
    runes: Sequence[tuple[str, int]],
    change_script: bytes,
    fee_rate: int,
) -> UnsignedBitcoinTx:
    """Output 0 the destination at its dust value, output 1 a runestone sending every rune to output 0.

    Each edict names its rune and amount (0 = all of it); the pointer also sends any rune not named to
    output 0, so nothing can fall to the change output.
    """
    _check_rate(fee_rate)
    _check_key(deposit, KeyChain.DEPOSIT, "rune deposit")
    _check_key(fee_utxo, KeyChain.FEE, "fee UTXO")
    if not runes:
        raise RefundRefused("a runes return needs at least one rune id and amount")
    dest = _destination(destination, network)
    runestone = runestone_script([(rune, amount, 0) for rune, amount in runes], pointer=0)
    outputs = [PayOutput(dest, dust_threshold(dest)), PayOutput(runestone, 0)]
    details = {"runes": [{"rune_id": r, "amount": a} for r, a in runes]}
    return _with_change(
        network, [deposit, fee_utxo], outputs, change_script, fee_rate, "runes_return", details
    )


def build_omni_return(
    *,
    network: BitcoinNetwork,
    deposit: SpendInput,
    fee_utxo: SpendInput,
    destination: str,
    property_id: int,
    amount: int,
    change_script: bytes,
    fee_rate: int,
) -> UnsignedBitcoinTx:
    """A new Omni simple send from the deposit address (input 0) to the destination (the last output).

    Outputs: the Class C payload, the change, then the reference output: Omni Core takes the last
    output that is not the sender's as the recipient, so the change must come before it.
    """
    _check_rate(fee_rate)
    _check_key(deposit, KeyChain.DEPOSIT, "Omni deposit")
    _check_key(fee_utxo, KeyChain.FEE, "fee UTXO")
    if change_script == deposit.script_pubkey:
        raise RefundRefused("change to the deposit address would be read as Omni change, not the fee wallet")
    dest = _destination(destination, network)
    payload = PayOutput(omni_simple_send_script(property_id, amount), 0)
    reference = PayOutput(dest, dust_threshold(dest))
    details = {"omni": {"property_id": property_id, "amount": amount}}
    return _with_change(
        network, [deposit, fee_utxo], [payload, reference], change_script, fee_rate, "omni_return", details,
        change_at=1,
    )  # fmt: skip


# --- shared -------------------------------------------------------------------------------------


def _with_change(
    network: BitcoinNetwork,
    inputs: list[SpendInput],
    outputs: list[PayOutput],
    change_script: bytes,
    fee_rate: int,
    purpose: str,
    details: dict | None = None,
    *,
    change_at: int | None = None,
) -> UnsignedBitcoinTx:
    """Add change to the fee wallet at `change_at` (default: last); drop it, to the fee, when it is dust."""
    available = sum(i.value for i in inputs) - sum(o.value for o in outputs)
    scripts = [o.script_pubkey for o in outputs]
    fee = fee_rate * estimate_vsize(len(inputs), [*scripts, change_script])
    change = available - fee
    if change >= dust_threshold(change_script):
        position = len(outputs) if change_at is None else change_at
        outputs = [*outputs[:position], PayOutput(change_script, change), *outputs[position:]]
    else:
        bare_fee = fee_rate * estimate_vsize(len(inputs), scripts)
        if available < bare_fee:
            raise RefundRefused(
                f"the fee UTXO cannot pay the fee: {available} sat available for a {bare_fee} sat fee"
            )
    return _unsigned(network, inputs, outputs, fee_rate, purpose, details or {})


def _unsigned(
    network: BitcoinNetwork,
    inputs: list[SpendInput],
    outputs: list[PayOutput],
    fee_rate: int,
    purpose: str,
    details: dict,
) -> UnsignedBitcoinTx:
    fee = sum(i.value for i in inputs) - sum(o.value for o in outputs)
    vsize = estimate_vsize(len(inputs), [o.script_pubkey for o in outputs])
    return UnsignedBitcoinTx(
        network=network.name,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        fee=fee,
        vsize_estimate=vsize,
        purpose=purpose,
        details={"fee_rate": fee_rate, **details},
    )


def _destination(address: str, network: BitcoinNetwork) -> bytes:
    # InvalidAddress (a ValueError) names what is wrong: format, checksum, network prefix or variant
    return address_to_script(address, network)


def _check_rate(fee_rate: int) -> None:
    if not isinstance(fee_rate, int) or fee_rate < 1:
        raise RefundRefused(f"fee rate must be a whole number of sat/vB, at least 1: {fee_rate!r}")


def _check_key(spent: SpendInput, chain: KeyChain, what: str) -> None:
    if spent.key is not chain:
        raise RefundRefused(f"the {what} must be spent with a {chain} key, not {spent.key}")
    if spent.value <= 0:
        raise RefundRefused(f"the {what} has no value")
