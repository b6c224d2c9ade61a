"""Consensus check of a signed transaction with py-bitcoinkernel (Bitcoin Core's script interpreter)."""

from __future__ import annotations

from collections.abc import Sequence

import pbk
from bitcoin.core import CMutableTransaction, CTransaction, CTxInWitness, CTxWitness
from bitcoin.core.script import CScriptWitness
from pbk.script import PrecomputedTransactionData

# Every soft fork a mainnet node enforces today: P2SH, strict DER, NULLDUMMY, CLTV, CSV, segwit, taproot.
CONSENSUS_FLAGS = pbk.ScriptVerificationFlags.ALL


class ConsensusFailure(AssertionError):
    """The kernel refused an input's script."""


def verify_tx(raw: bytes, spent: Sequence[tuple[bytes, int]]) -> None:
    """Verify every input of `raw` against its spent output (script, value); raises ConsensusFailure.

    All spent outputs are given to the kernel at once, as taproot sighashes commit to every one of them.
    """
    tx = pbk.Transaction(raw)
    if len(tx.inputs) != len(spent):
        raise ConsensusFailure(f"{len(tx.inputs)} inputs but {len(spent)} spent outputs given")
    outputs = [pbk.TransactionOutput(pbk.ScriptPubkey(script), value) for script, value in spent]
    precomputed = PrecomputedTransactionData(tx, outputs)
    for index, (script, value) in enumerate(spent):
        try:
            ok = pbk.ScriptPubkey(script).verify(value, tx, precomputed, index, CONSENSUS_FLAGS)
        except pbk.ScriptVerifyException as exc:
            raise ConsensusFailure(f"input {index}: {exc}") from exc
        if not ok:
            raise ConsensusFailure(f"input {index}: script verification failed")


def is_valid(raw: bytes, spent: Sequence[tuple[bytes, int]]) -> bool:
    try:
        verify_tx(raw, spent)
    except ConsensusFailure:
        return False
    return True


def with_output_value_changed(raw: bytes, output: int, delta: int) -> bytes:
    """The same signed transaction with one output's value moved by `delta` satoshis."""
    tx = CMutableTransaction.from_tx(CTransaction.deserialize(raw))
    tx.vout[output].nValue += delta
    return tx.serialize()


def with_signatures_swapped(raw: bytes, first: int, second: int) -> bytes:
    """The same transaction with the witness signatures of two inputs exchanged (keys left in place)."""
    tx = CMutableTransaction.from_tx(CTransaction.deserialize(raw))
    stacks = [list(w.scriptWitness.stack) for w in tx.wit.vtxinwit]
    stacks[first][0], stacks[second][0] = stacks[second][0], stacks[first][0]
    tx.wit = CTxWitness([CTxInWitness(CScriptWitness(stack)) for stack in stacks])
    return tx.serialize()
