"""AddressSet: membership of up to ~10 million deposit addresses in bounded memory (8 bytes an address).

A Python set of 10M address strings costs about 1 GB. AddressSet keeps only a 64-bit keyed digest of each
address's canonical bytes, in 4096 sorted `array('Q')` buckets (by the digest's top 12 bits) searched with
bisect: 10M addresses take about 80 MB. New addresses go to a small overflow set first and are merged into
the buckets once it grows past `overflow_limit`.

False positives: two different addresses share a digest with probability about 2**-64 each, so a scan of
N candidate recipients against n watched addresses yields about N * n / 2**64 false hits (1e-5 for a billion
lookups against 10M addresses). The digest is keyed by a per-process random secret (SipHash, Python's
`hash` of bytes), so an attacker cannot grind addresses that collide with ours. A hit is therefore only
a candidate: the recorder confirms it exactly against the database before acting on it.
There are no false negatives.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable

from chains.base import Family

_MASK64 = (1 << 64) - 1
_BUCKET_SHIFT = 52  # 64 - 12 bits: 4096 buckets
_BUCKETS = 1 << (64 - _BUCKET_SHIFT)


def evm_key(address: str) -> bytes:
    """The 20 address bytes whatever the hex case (membership only; validating is normalize_address's job)."""
    if len(address) != 42 or address[:2] not in ("0x", "0X"):
        raise ValueError(f"not an EVM address: {address!r}")
    return bytes.fromhex(address[2:])


def text_key(address: str) -> bytes:
    """Bitcoin and other string addresses: the canonical string itself (bech32 is lowercased)."""
    lowered = address.lower()
    # bech32/bech32m are case-insensitive (canonical lowercase); base58 is case-sensitive.
    if lowered.startswith(("bc1", "tb1", "bcrt1")):
        return lowered.encode()
    return address.encode()


KEYS: dict[Family, Callable[[str], bytes]] = {Family.EVM: evm_key, Family.BITCOIN: text_key}


def _digest(key: bytes) -> int:
    # hash(bytes) is SipHash keyed by a random per-process secret: fast, and not grindable from outside.
    return hash(key) & _MASK64


class AddressSet:
    """A WatchedAddresses of one family, for millions of addresses. Not thread-safe for concurrent writes."""

    def __init__(
        self,
        addresses: Iterable[str] = (),
        *,
        family: Family = Family.EVM,
        overflow_limit: int = 50_000,
    ) -> None:
        self.family = family
        self._key = KEYS[family]
        self.overflow_limit = overflow_limit
        self._buckets: list[array] = [array("Q") for _ in range(_BUCKETS)]
        self._overflow: set[int] = set()
        self._count = 0
        self._bulk_load(addresses)

    def _bulk_load(self, addresses: Iterable[str]) -> None:
        key, buckets = self._key, self._buckets
        for address in addresses:
            digest = _digest(key(address))
            buckets[digest >> _BUCKET_SHIFT].append(digest)
        for i, bucket in enumerate(buckets):
            if bucket:
                # Duplicates are dropped so len() counts distinct addresses.
                buckets[i] = array("Q", sorted(set(bucket)))
        self._count = sum(len(b) for b in buckets)

    # --- WatchedAddresses -----------------------------------------------------------------------

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        try:
            return self.contains_digest(_digest(self._key(address)))
        except ValueError:
            return False

    def __len__(self) -> int:
        return self._count + len(self._overflow)

    def contains_digest(self, digest: int) -> bool:
        bucket = self._buckets[digest >> _BUCKET_SHIFT]
        i = bisect_left(bucket, digest)
        return (i < len(bucket) and bucket[i] == digest) or digest in self._overflow

    def contains_key(self, key: bytes) -> bool:
        """Membership by canonical bytes (the scanner's fast path: no string re-parsing)."""
        return self.contains_digest(_digest(key))

    # --- growth ----------------------------------------------------------------------------------

    def add(self, address: str) -> None:
        digest = _digest(self._key(address))
        if not self.contains_digest(digest):
            self._overflow.add(digest)
            if len(self._overflow) > self.overflow_limit:
                self.compact()

    def add_many(self, addresses: Iterable[str]) -> None:
        for address in addresses:
            self.add(address)

    def refresh(self, new_addresses: Iterable[str]) -> int:
        """Add the addresses created since the last refresh (e.g. from the DB); returns how many were new."""
        before = len(self)
        self.add_many(new_addresses)
        return len(self) - before

    def compact(self) -> None:
        """Merge the overflow set into the sorted buckets (only the buckets it touches are rebuilt)."""
        touched: dict[int, list[int]] = {}
        for digest in self._overflow:
            touched.setdefault(digest >> _BUCKET_SHIFT, []).append(digest)
        for index, digests in touched.items():
            self._buckets[index] = array("Q", sorted([*self._buckets[index], *digests]))
        self._count += len(self._overflow)
        self._overflow = set()

    def memory_bytes(self) -> int:
        """Approximate bytes held by the digests (buckets plus overflow), excluding fixed overhead."""
        buckets = sum(b.buffer_info()[1] * b.itemsize + 64 for b in self._buckets)
        return buckets + len(self._overflow) * 60
