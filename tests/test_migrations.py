"""Migrations that move money records keep every signed byte: checked by migrating real rows forward."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from recovery.models import GasTopUp, GasTopUpBatch
from tests.factories import make_case, make_deposit, make_network
from tests.test_constraints import make_refund

pytestmark = pytest.mark.django_db(transaction=True)
BEFORE_BATCHES = [("recovery", "0004_refund_send_tracking")]
AFTER_BATCHES = [("recovery", "0005_gas_top_up_batches")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def test_each_signed_top_up_becomes_a_batch_of_one_with_the_same_bytes():
    deposit = make_deposit(make_network())
    refund = make_refund(make_case(deposit.network, deposit=deposit), deposit)
    executor = migrate(BEFORE_BATCHES)
    try:
        old = executor.loader.project_state(BEFORE_BATCHES[0]).apps.get_model("recovery", "GasTopUp")
        old.objects.create(
            refund_id=refund.pk,
            network_id=refund.network_id,
            sender="0xgaswallet",
            amount=21_000 * 10**9,
            nonce=17,
            raw_tx="02f8aa",
            tx_hash="0xabc",
            state="broadcast",
        )
    finally:
        migrate(AFTER_BATCHES)

    top_up = GasTopUp.objects.select_related("batch").get()
    batch = top_up.batch
    assert (top_up.state, top_up.recipient, top_up.amount) == ("batched", refund.sender, 21_000 * 10**9)
    assert (batch.sender, batch.nonce, batch.raw_tx, batch.tx_hash, batch.state, batch.recipients) == (
        "0xgaswallet",
        17,
        "02f8aa",
        "0xabc",
        "broadcast",
        1,
    )
    assert batch.total == top_up.amount and GasTopUpBatch.objects.count() == 1
