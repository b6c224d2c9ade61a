"""Nothing arrives unseen: a transfer log to our address that no decoder reads is kept for staff, and a
`legacy` token rule makes the scanner and a user's claim read that contract's logs from then on."""

from __future__ import annotations

import pytest
from django.test import Client

from recovery.deposits.scanning import network_scan
from recovery.models import Deposit, TokenRule, UnreadTransferLog
from tests.payout_env import CONFIRMATIONS

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def legacy_deposit(payout, amount: int) -> str:
    node, legacy = payout.node, payout.contracts["LegacyToken"]
    node.transact(legacy, "mint", payout.user, amount)
    txid = node.transact(legacy, "transfer", payout.deposit_address, amount, sender=payout.user)
    node.mine(CONFIRMATIONS)
    return txid


def test_an_unreadable_transfer_to_our_address_is_recorded_for_staff(payout, users, client):
    txid = legacy_deposit(payout, 3 * 10**18)

    report = network_scan(network_id=payout.network.pk)

    assert report.unread == 1 and not Deposit.objects.filter(txid=txid).exists()
    row = UnreadTransferLog.objects.get(txid=txid)
    assert row.contract == payout.contracts["LegacyToken"].address
    assert row.mentions == [payout.deposit_address.lower()] and "1 topics" in row.reason
    network_scan(network_id=payout.network.pk)  # scanned again: still one row
    assert UnreadTransferLog.objects.filter(txid=txid).count() == 1
    agent = Client()
    agent.force_login(users.agent)
    assert txid[:17] in agent.get("/staff/dashboard/").content.decode()
    assert "recovery_unread_transfer_logs 1.0" in client.get("/metrics").content.decode()


def test_a_legacy_rule_makes_its_transfers_deposits(payout):
    contract = payout.contracts["LegacyToken"].address
    TokenRule.objects.create(network=payout.network, contract=contract, kind="legacy", reason="2016 token")

    txid = legacy_deposit(payout, 4 * 10**18)
    network_scan(network_id=payout.network.pk)

    deposit = Deposit.objects.get(txid=txid)
    assert (deposit.standard, deposit.contract, deposit.amount) == ("erc20", contract, 4 * 10**18)
    assert (deposit.sender, deposit.recipient) == (payout.user, payout.deposit_address)
    assert not UnreadTransferLog.objects.exists()
