"""The watched deposit addresses of each family, held in memory per process and refreshed incrementally."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from chains.base import Family as ChainFamily
from chains.watchset import AddressSet
from recovery.models import DepositAddress

REFRESH_CHUNK = 50_000


@dataclass
class _Watched:
    addresses: AddressSet
    max_id: int = 0


_sets: dict[str, _Watched] = {}
_lock = threading.Lock()


def watched_addresses(family: str) -> AddressSet:
    """The family's AddressSet, with every DepositAddress added since the last call (by increasing id).

    Addresses are only ever added by the import, never changed in place, so loading rows with an id above
    the highest seen is a complete refresh. Retired addresses stay watched: deposits to them are cases too.
    """
    with _lock:
        watched = _sets.get(family)
        if watched is None:
            watched = _sets[family] = _Watched(AddressSet(family=ChainFamily(family)))
        while True:
            rows = list(
                DepositAddress.objects.filter(family=family, pk__gt=watched.max_id)
                .order_by("pk")
                .values_list("pk", "address")[:REFRESH_CHUNK]
            )
            if not rows:
                return watched.addresses
            watched.addresses.add_many(address for _, address in rows)
            watched.max_id = rows[-1][0]


def forget_watched() -> None:
    """Drop the in-memory sets (tests that reset the database)."""
    with _lock:
        _sets.clear()
