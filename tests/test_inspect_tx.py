"""manage.py inspect_tx: staff see what a transaction carries, as one JSON object."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chains.evm.signer import LocalHDSigner
from recovery.deposits.watched import forget_watched
from recovery.models import DepositAddress, Network
from recovery.onchain.registry import forget_chains

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "bitcoin"
RUNES_TX = "1d4a587afd527a6e1bb4b1ef8015830ca6cee312313b5e415184a31626bec752"
PLAIN_TX = "04460b129b970e53de19860f52a276358b5fe7dffc2bb25f7d35cefa62a1755e"


def inspect(**options) -> dict:
    out = io.StringIO()
    call_command("inspect_tx", stdout=out, **options)
    return json.loads(out.getvalue())


@pytest.fixture
def bitcoin(db):
    return Network.objects.create(
        slug="bitcoin",
        name="Bitcoin",
        family="bitcoin",
        confirmations=3,
        native_symbol="BTC",
        native_decimals=8,
    )


@pytest.mark.parametrize("txid", [RUNES_TX, PLAIN_TX])
def test_bitcoin_outputs_match_the_explorer_record(bitcoin, txid):
    esplora = json.loads((FIXTURES / f"{txid}.esplora.json").read_text())

    result = inspect(network="bitcoin", hex_file=str(FIXTURES / f"{txid}.hex"))

    assert result["txid"] == txid and result["network"] == "bitcoin"
    expected = [
        {"n": n, "address": out.get("scriptpubkey_address"), "value": out["value"]}
        for n, out in enumerate(esplora["vout"])
    ]
    assert result["outputs"] == expected


def test_a_runestone_is_reported_and_a_plain_payment_carries_no_tokens(bitcoin):
    runes = inspect(network="bitcoin", hex_file=str(FIXTURES / f"{RUNES_TX}.hex"))
    plain = inspect(network="bitcoin", hex_file=str(FIXTURES / f"{PLAIN_TX}.hex"))
    assert "runes" in [t["protocol"] for t in runes["tokens"]]  # an etching, with its inscription
    assert plain["tokens"] == []


def test_garbage_hex_is_a_clear_error(bitcoin, tmp_path):
    bad = tmp_path / "bad.hex"
    bad.write_text("0200000001ffff")
    with pytest.raises(CommandError, match="MalformedData"):
        inspect(network="bitcoin", hex_file=str(bad))


def test_an_unknown_network_names_the_known_ones(bitcoin):
    with pytest.raises(CommandError, match="known: bitcoin"):
        inspect(network="dogecoin", txid="0x" + "0" * 64)


@pytest.mark.anvil
def test_evm_transfers_to_our_addresses_are_listed_with_their_details(evm_snapshot, evm_contracts):
    forget_chains()
    forget_watched()
    node = evm_snapshot
    Network.objects.create(
        slug="anvil",
        name="Anvil",
        family="evm",
        chain_id=31337,
        confirmations=2,
        native_symbol="ETH",
        rpc_url=node.url,
    )
    ours = LocalHDSigner(settings.SIGNER_MNEMONIC).address(1000)
    DepositAddress.objects.create(family="evm", address=ours, owner_ref="ACC-alice", derivation_index=1000)
    user, token = node.accounts[3], evm_contracts["TestMultiToken"]
    node.transact(token, "mint", user, 9, 40)
    txid = node.transact(token, "safeTransferFrom", user, ours, 9, 15, b"", sender=user)

    result = inspect(network="anvil", txid=txid)

    assert result["status"] == "success" and result["block"] == node.head()
    [transfer] = result["transfers"]
    assert transfer == {
        "standard": "erc1155",
        "contract": token.address,
        "from": user,
        "to": ours,
        "amount": 15,
        "token_id": 9,
        "log_index": transfer["log_index"],
    }
    assert isinstance(transfer["log_index"], int)
    with pytest.raises(CommandError, match="InvalidTxid"):
        inspect(network="anvil", txid="0x1234")
    forget_chains()
