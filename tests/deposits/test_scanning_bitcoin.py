"""The scanner on Bitcoin: real mainnet transactions served over Bitcoin Core's JSON-RPC become deposits."""

from __future__ import annotations

import json

import pytest

from recovery.deposits.scanning import network_scan
from recovery.deposits.watched import forget_watched
from recovery.models import Deposit, DepositAddress, DepositClass, DepositStatus, ListedAsset, Network
from recovery.onchain.registry import forget_chains
from tests.chains.bitcoin.fake_node import FIXTURES_DIR

pytestmark = pytest.mark.django_db
RUNES_TX = "1d4a587afd527a6e1bb4b1ef8015830ca6cee312313b5e415184a31626bec752"
PLAIN_TX = "04460b129b970e53de19860f52a276358b5fe7dffc2bb25f7d35cefa62a1755e"


def esplora(txid: str) -> dict:
    return json.loads((FIXTURES_DIR / f"{txid}.esplora.json").read_text())


def raw(txid: str) -> str:
    return (FIXTURES_DIR / f"{txid}.hex").read_text().strip()


@pytest.fixture
def btc(bitcoin_node):
    forget_chains()
    forget_watched()
    url = bitcoin_node.url.replace("http://", f"http://{bitcoin_node.user}:{bitcoin_node.password}@")
    network = Network.objects.create(
        slug="bitcoin",
        name="Bitcoin",
        family="bitcoin",
        confirmations=3,
        native_symbol="BTC",
        native_decimals=8,
        rpc_url=url,
        options={"scan_batch": 10, "start_block": bitcoin_node.tip_height + 1},
    )
    ListedAsset.objects.create(network=network, symbol="BTC", contract="", decimals=8, min_deposit=10_000)
    for txid, vout in ((RUNES_TX, 0), (PLAIN_TX, 1)):
        address = esplora(txid)["vout"][vout]["scriptpubkey_address"]
        DepositAddress.objects.get_or_create(
            family="bitcoin", address=address, defaults={"owner_ref": "ACC-alice"}
        )
    yield bitcoin_node, network
    forget_chains()
    forget_watched()


def test_outputs_to_our_addresses_become_deposits_with_their_token_payloads(btc):
    node, network = btc
    node.mine([raw(RUNES_TX), raw(PLAIN_TX)])
    for _ in range(3):  # Network.confirmations counts blocks built on top of the deposit's block
        node.mine()

    report = network_scan(network_id=network.pk)

    runes = Deposit.objects.filter(txid=RUNES_TX).order_by("index")
    assert [(d.index, d.amount) for d in runes] == [(0, 546), (1, 546)]  # both outputs pay the same address
    assert any("runes" in [t["protocol"] for t in d.tokens] for d in runes)
    assert all(d.classification == DepositClass.UNSUPPORTED_TOKEN for d in runes if d.tokens)
    plain = Deposit.objects.get(txid=PLAIN_TX)
    expected_sender = esplora(PLAIN_TX)["vin"][0]["prevout"]["scriptpubkey_address"]
    assert (plain.index, plain.amount, plain.tokens) == (1, 54413, [])
    assert plain.sender == expected_sender and plain.classification == DepositClass.LISTED
    assert report.recorded == 3 and all(d.status == DepositStatus.CONFIRMED for d in Deposit.objects.all())


def test_nothing_is_recorded_before_three_blocks_on_top_and_a_reorg_orphans(btc):
    node, network = btc
    node.mine([raw(PLAIN_TX)])
    node.mine()
    node.mine()
    network_scan(network_id=network.pk)
    assert not Deposit.objects.exists()  # two blocks on top, three needed

    node.mine()
    network_scan(network_id=network.pk)
    assert Deposit.objects.get(txid=PLAIN_TX).status == DepositStatus.CONFIRMED

    node.reorg(4, [[], [], [], [], []])  # the deposit's block and the three above replaced by empty ones
    report = network_scan(network_id=network.pk)

    assert Deposit.objects.get(txid=PLAIN_TX).status == DepositStatus.ORPHANED
    assert report.rewound_to is not None
