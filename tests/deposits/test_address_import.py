"""Bulk import of deposit addresses: valid rows load, bad rows are named by line, reruns change nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from recovery.models import DepositAddress

pytestmark = pytest.mark.django_db

HEADER = "family,address,owner_ref,derivation_index,memo\n"
GOOD = (
    "evm,0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266,ACC-1,0,\n"
    "bitcoin,bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu,ACC-2,5,\n"
    "bitcoin,bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297,ACC-3,,\n"
    "evm,0x70997970C51812dc3A010C7d01b50e0d17dc79C8,ACC-4,7,memo-9\n"
)
BAD = (
    "evm,0xF39FD6e51aad88F6F4ce6aB8827279cffFb92266,ACC-5,1,\n"  # mixed case with a wrong EIP-55 checksum
    "bitcoin,bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv,ACC-6,1,\n"  # bech32 checksum broken
    "tron,TXYZ,ACC-7,1,\n"
    "evm,0x70997970C51812dc3A010C7d01b50e0d17dc79C8,,1,\n"  # no owner
    "evm,0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC,ACC-8,-3,\n"
)


def write_csv(tmp_path, body: str):
    path = tmp_path / "addresses.csv"
    path.write_text(HEADER + body)
    return str(path)


def test_valid_rows_load_in_canonical_form(tmp_path):
    out = io.StringIO()
    call_command("import_deposit_addresses", write_csv(tmp_path, GOOD), stdout=out)
    assert "4 new, 0 already present, 0 rejected" in out.getvalue()
    evm = DepositAddress.objects.get(owner_ref="ACC-1")
    assert evm.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"  # EIP-55
    assert DepositAddress.objects.get(owner_ref="ACC-4").memo == "memo-9"
    assert DepositAddress.objects.get(owner_ref="ACC-3").derivation_index is None


def test_a_rerun_is_idempotent(tmp_path):
    path = write_csv(tmp_path, GOOD)
    call_command("import_deposit_addresses", path, stdout=io.StringIO())
    out = io.StringIO()
    call_command("import_deposit_addresses", path, stdout=out)
    assert "0 new, 4 already present" in out.getvalue()
    assert DepositAddress.objects.count() == 4


def test_malformed_rows_are_rejected_with_their_line_numbers_and_good_rows_still_load(tmp_path):
    err = io.StringIO()
    with pytest.raises(CommandError, match="5 malformed row"):
        call_command(
            "import_deposit_addresses", write_csv(tmp_path, GOOD + BAD), stdout=io.StringIO(), stderr=err
        )
    lines = err.getvalue().splitlines()
    assert [line.split(":")[0] for line in lines] == ["line 6", "line 7", "line 8", "line 9", "line 10"]
    assert "checksum" in lines[0].lower()
    assert "unknown family 'tron'" in lines[2]
    assert DepositAddress.objects.count() == 4


def test_a_file_without_the_expected_header_is_refused_whole(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("address,owner\n0xabc,1\n")
    with pytest.raises(CommandError, match="header lacks"):
        call_command("import_deposit_addresses", str(path))
    assert not DepositAddress.objects.exists()
