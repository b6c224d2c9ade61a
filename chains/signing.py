"""Who signs: the Signer protocol. Keys never reach the database; a signer derives them from its seed.

A deposit address is identified by its derivation index; each family's signer knows its own path.
The local HD signers (chains/evm/signer.py, chains/bitcoin/signer.py) are for development and tests; a
production deployment puts an HSM or MPC service behind the same protocol.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from chains.base import Family, SignedTx


@runtime_checkable
class Signer(Protocol):
    family: Family

    def address(self, index: int) -> str:
        """The deposit address at a derivation index."""
        ...

    def sign(self, unsigned: Any) -> SignedTx:
        """Sign a family-specific unsigned transaction that names the key indices it spends from."""
        ...
