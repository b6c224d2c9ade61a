"""Gas top-ups join batches: one gas-wallet transaction (a disperse call) funds many deposit addresses.

Each existing top-up becomes a batch of one carrying its signed bytes, nonce and state, so nothing that was
signed or sent is lost or signed again. Reversible only while no top-up exists: a batch of many has no
single-top-up form.
"""

import django.db.models.deletion
from django.db import migrations, models

import recovery.models.fields

OLD_TO_NEW_STATE = {"signed": "batched", "broadcast": "batched", "confirmed": "confirmed", "failed": "failed"}


def top_ups_into_batches(apps, schema_editor):
    GasTopUp = apps.get_model("recovery", "GasTopUp")
    GasTopUpBatch = apps.get_model("recovery", "GasTopUpBatch")
    for top_up in GasTopUp.objects.select_related("refund").order_by("pk"):
        batch = GasTopUpBatch.objects.create(
            network_id=top_up.network_id,
            sender=top_up.sender,
            nonce=top_up.nonce,
            total=top_up.amount,
            recipients=1,
            raw_tx=top_up.raw_tx,
            tx_hash=top_up.tx_hash,
            state=top_up.state,
            confirmed_at=top_up.confirmed_at,
        )
        top_up.batch = batch
        top_up.recipient = top_up.refund.sender
        top_up.state = OLD_TO_NEW_STATE.get(top_up.state, "batched")
        top_up.save(update_fields=["batch", "recipient", "state"])
    if schema_editor.connection.vendor == "postgresql":
        # Check the deferred foreign keys now: PostgreSQL refuses ALTER TABLE with checks still pending.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("recovery", "0004_refund_send_tracking"),
    ]

    operations = [
        migrations.CreateModel(
            name="GasTopUpBatch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sender", models.CharField(help_text="The gas wallet.", max_length=100)),
                ("nonce", models.PositiveBigIntegerField()),
                (
                    "total",
                    recovery.models.fields.BaseUnitsField(
                        help_text="Wei sent in all (the sum of the batch's top-ups)."
                    ),
                ),
                ("recipients", models.PositiveIntegerField()),
                ("raw_tx", models.TextField()),
                ("tx_hash", models.CharField(max_length=100, unique=True)),
                (
                    "state",
                    models.CharField(
                        default="signed", help_text="signed, broadcast, confirmed, failed.", max_length=16
                    ),
                ),
                (
                    "fee_paid",
                    recovery.models.fields.BaseUnitsField(
                        blank=True, help_text="Wei the gas wallet paid to mine it.", null=True
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("confirmed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "network",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="recovery.network"
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("network", "sender", "nonce"), name="gas_batch_nonce_unique"
                    ),
                    models.CheckConstraint(condition=models.Q(("total__gt", 0)), name="gas_batch_total_gt_0"),
                    models.CheckConstraint(
                        condition=models.Q(("raw_tx", ""), _negated=True), name="gas_batch_bytes_stored"
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="gastopup",
            name="batch",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="top_ups",
                to="recovery.gastopupbatch",
            ),
        ),
        migrations.AddField(
            model_name="gastopup",
            name="recipient",
            field=models.CharField(default="", help_text="The deposit address to fund.", max_length=100),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="gastopup",
            name="batchable",
            field=models.BooleanField(
                default=False,
                help_text="Goes through the disperse contract: the address already exists (EIP-161), so "
                "funding it there is cheaper than a plain transfer; funding an empty one costs 25,000 gas "
                "more there.",
            ),
        ),
        migrations.RunPython(top_ups_into_batches, migrations.RunPython.noop),
        migrations.RemoveConstraint(model_name="gastopup", name="gas_top_up_nonce_unique"),
        migrations.RemoveField(model_name="gastopup", name="sender"),
        migrations.RemoveField(model_name="gastopup", name="nonce"),
        migrations.RemoveField(model_name="gastopup", name="raw_tx"),
        migrations.RemoveField(model_name="gastopup", name="tx_hash"),
        migrations.AlterField(
            model_name="gastopup",
            name="state",
            field=models.CharField(
                choices=[
                    ("pending", "Waiting to join a batch"),
                    ("batched", "In a signed batch transaction"),
                    ("confirmed", "Mined: the deposit address was funded"),
                    ("failed", "The batch failed on-chain"),
                    ("cancelled", "No longer needed before it was batched"),
                ],
                default="pending",
                max_length=16,
            ),
        ),
        migrations.AddConstraint(
            model_name="gastopup",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("batch__isnull", True), ("state__in", ["pending", "cancelled"])),
                    models.Q(("batch__isnull", False), ("state__in", ["batched", "confirmed", "failed"])),
                    _connector="OR",
                ),
                name="gas_top_up_batched_iff_in_batch",
            ),
        ),
        migrations.AddIndex(
            model_name="gastopup",
            index=models.Index(fields=["network", "state", "batchable"], name="gas_top_up_waiting_idx"),
        ),
    ]
