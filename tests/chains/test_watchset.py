"""AddressSet: exact membership (no false negatives), growth, both families, bounded memory per address."""

from __future__ import annotations

import random

import pytest

from chains.base import Family
from chains.evm.abi import to_checksum
from chains.watchset import AddressSet


def random_evm(rng: random.Random, n: int) -> list[str]:
    return [to_checksum(rng.randbytes(20).hex()) for _ in range(n)]


def random_lowercase_evm(rng: random.Random, n: int) -> list[str]:
    return ["0x" + rng.randbytes(20).hex() for _ in range(n)]


def test_every_added_evm_address_is_a_member_in_any_hex_case() -> None:
    addresses = random_evm(random.Random(1), 2000)
    watched = AddressSet(addresses)
    assert len(watched) == 2000
    assert all(a in watched for a in addresses)
    assert all(a.lower() in watched for a in addresses)
    assert all("0x" + a[2:].upper() in watched for a in addresses)


def test_addresses_never_added_are_not_members() -> None:
    rng = random.Random(2)
    watched = AddressSet(random_lowercase_evm(rng, 50_000))
    strangers = random_lowercase_evm(rng, 50_000)
    # Expected false positives: 50k * 50k / 2**64, about 1e-10.
    assert sum(a in watched for a in strangers) == 0


def test_non_strings_and_garbage_are_not_members() -> None:
    watched = AddressSet(random_evm(random.Random(3), 10))
    assert 12345 not in watched
    assert None not in watched
    assert "not an address" not in watched
    assert "0x" + "zz" * 20 not in watched


def test_duplicates_count_once() -> None:
    address = random_evm(random.Random(4), 1)[0]
    watched = AddressSet([address, address.lower(), address])
    watched.add(address)
    watched.add_many([address.lower()])
    assert len(watched) == 1


def test_incremental_additions_are_members_before_and_after_compaction() -> None:
    rng = random.Random(5)
    initial, later = random_evm(rng, 1000), random_evm(rng, 300)
    watched = AddressSet(initial, overflow_limit=100)
    assert watched.refresh(later[:50]) == 50  # below the limit: still in the overflow set
    assert all(a in watched for a in later[:50])
    watched.add_many(later[50:])  # crosses the limit: merged into the sorted buckets
    assert len(watched) == 1300
    assert all(a in watched for a in initial + later)
    watched.compact()
    assert len(watched) == 1300 and all(a in watched for a in later)


def test_bitcoin_addresses_match_bech32_in_any_case_and_base58_exactly() -> None:
    bech32 = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
    base58 = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
    watched = AddressSet([bech32, base58], family=Family.BITCOIN)
    assert bech32 in watched and bech32.upper() in watched
    assert base58 in watched
    assert base58.lower() not in watched  # base58 is case-sensitive: a different (invalid) address
    assert "bc1qstranger0000000000000000000000000000" not in watched


def test_memory_is_about_eight_bytes_an_address() -> None:
    n = 200_000
    watched = AddressSet(random_lowercase_evm(random.Random(6), n))
    fixed = 4096 * 64  # per-bucket array overhead
    assert watched.memory_bytes() - fixed <= n * 8 * 1.15


@pytest.mark.parametrize("bad", ["0x1234", "1" * 42])
def test_adding_a_malformed_evm_address_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        AddressSet([bad])
