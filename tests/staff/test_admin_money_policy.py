"""The Django admin never goes around the workflow: recorded deposits and owner mappings are read-only,
and every change to money policy keeps its old values in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from recovery.audit.events import event_log_verify
from recovery.models import (
    AssetPrice,
    CaseEvent,
    DepositAddress,
    FeeRule,
    PendingConfigChange,
    ScreenedAddress,
    UserProfile,
)
from tests.factories import make_deposit, make_network
from tests.staff.conftest import enrol, totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def administrator(superuser) -> Client:
    admin, device = superuser
    client = Client()
    client.force_login(admin)
    client.post("/staff/otp/", {"token": totp_code(device.key), "next": "/admin/"})
    return client


def test_a_recorded_deposit_cannot_be_changed_in_the_admin(administrator):
    deposit = make_deposit(make_network())
    url = f"/admin/recovery/deposit/{deposit.pk}/change/"
    page = administrator.get(url)
    assert page.status_code == 200 and b'name="amount"' not in page.content  # shown, not editable
    administrator.post(url, {"amount": "1"})
    deposit.refresh_from_db()
    assert deposit.amount != 1
    assert administrator.get("/admin/recovery/deposit/add/").status_code == 403


def second_administrator() -> Client:
    from tests.factories import make_user

    other = make_user("root2")
    other.is_staff = other.is_superuser = True
    other.save()
    device = enrol(other)
    client = Client()
    client.force_login(other)
    client.post("/staff/otp/", {"token": totp_code(device.key), "next": "/admin/"})
    return client


def apply(client: Client, change: PendingConfigChange):
    url = "/admin/recovery/pendingconfigchange/"
    return client.post(url, {"action": "apply_changes", "_selected_action": [change.pk]}, follow=True)


def test_reassigning_an_owner_waits_for_a_second_administrator(administrator, users):
    address = DepositAddress.objects.create(family="evm", address="0x" + "1" * 40, owner_ref="ACC-alice")
    form = {"family": "evm", "address": address.address, "memo": "", "owner_ref": "ACC-bob"}
    form.update(derivation_index="", retired_at="")
    response = administrator.post(f"/admin/recovery/depositaddress/{address.pk}/change/", form, follow=True)
    assert "waits for a second administrator" in response.content.decode()
    address.refresh_from_db()
    assert address.owner_ref == "ACC-alice"  # nothing changed yet
    change = PendingConfigChange.objects.get()
    assert (change.action, change.values["owner_ref"], change.old_values["owner_ref"]) == (
        "change",
        "ACC-bob",
        "ACC-alice",
    )

    assert "second administrator must apply" in apply(administrator, change).content.decode()
    address.refresh_from_db()
    assert address.owner_ref == "ACC-alice"  # the one who asked cannot apply it, and that is audited
    assert CaseEvent.objects.filter(
        chain="system", kind="config_change_refused", actor__username="root"
    ).exists()
    apply(second_administrator(), change)

    address.refresh_from_db()
    assert address.owner_ref == "ACC-bob"
    applied = CaseEvent.objects.get(chain="system", kind="config_change_applied")
    assert applied.data["old"]["owner_ref"] == "ACC-alice" and applied.data["requested_by"] == "root"
    assert applied.actor.username == "root2" and event_log_verify() == []


def test_a_profile_account_ref_is_never_edited_in_the_admin(administrator, users):
    profile = UserProfile.objects.get(user=users.bob)
    administrator.post(f"/admin/recovery/userprofile/{profile.pk}/change/", {"account_ref": "ACC-alice"})
    profile.refresh_from_db()
    assert profile.account_ref == "ACC-bob"


def test_a_fee_rule_change_is_applied_by_a_second_administrator_with_its_old_values_kept(administrator):
    rule = FeeRule.objects.create(category="unsupported_token", flat_usd_cents=500, percent_bps=0)
    form = {"category": "unsupported_token", "flat_usd_cents": "9900", "percent_bps": "0", "active": "on"}
    form.update(cap_usd_cents="", free_below_usd_cents="0", include_network_cost="on", network="")
    administrator.post(f"/admin/recovery/feerule/{rule.pk}/change/", form)
    rule.refresh_from_db()
    assert rule.flat_usd_cents == 500

    apply(second_administrator(), PendingConfigChange.objects.get())

    rule.refresh_from_db()
    assert rule.flat_usd_cents == 9900
    event = CaseEvent.objects.get(chain="system", kind="config_change_applied")
    assert (event.data["old"]["flat_usd_cents"], event.data["new"]["flat_usd_cents"]) == ("500", "9900")


def test_a_screened_address_added_in_the_admin_waits_for_a_second_administrator(administrator):
    form = {"address": "0x" + "2" * 40, "family": "evm", "kind": "sanctioned", "label": "x", "source": "ofac"}
    administrator.post("/admin/recovery/screenedaddress/add/", form)
    assert not ScreenedAddress.objects.exists()

    apply(second_administrator(), PendingConfigChange.objects.get())

    assert ScreenedAddress.objects.get().kind == "sanctioned"


def test_a_price_change_keeps_its_old_values_in_the_audit_log(administrator):
    network = make_network()
    price = AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=1
    )
    form = {
        "network": network.pk,
        "contract": "",
        "symbol": "ETH",
        "decimals": "18",
        "usd_micros_per_unit": "7",
    }
    assert administrator.post(f"/admin/recovery/assetprice/{price.pk}/change/", form).status_code == 302

    event = CaseEvent.objects.get(chain="system", kind="config_changed")
    assert event.data["changes"]["usd_micros_per_unit"] == {"old": "1", "new": "7"}
    assert event.actor.username == "root" and event_log_verify() == []
