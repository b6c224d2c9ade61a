"""The Django admin never goes around the workflow: recorded deposits and owner mappings are read-only,
and every change to money policy keeps its old values in the audit log."""

from __future__ import annotations

import pytest
from django.test import Client

from recovery.audit.events import event_log_verify
from recovery.models import CaseEvent, DepositAddress, FeeRule, UserProfile
from tests.factories import make_deposit, make_network
from tests.staff.conftest import totp_code

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


def test_whose_deposits_they_are_cannot_be_reassigned_in_the_admin(administrator, users):
    address = DepositAddress.objects.create(family="evm", address="0x" + "1" * 40, owner_ref="ACC-alice")
    page = administrator.get(f"/admin/recovery/depositaddress/{address.pk}/change/")
    assert page.status_code == 200 and b'name="owner_ref"' not in page.content
    administrator.post(f"/admin/recovery/depositaddress/{address.pk}/change/", {"owner_ref": "ACC-bob"})
    address.refresh_from_db()
    assert address.owner_ref == "ACC-alice"
    profile = UserProfile.objects.get(user=users.bob)
    administrator.post(f"/admin/recovery/userprofile/{profile.pk}/change/", {"account_ref": "ACC-alice"})
    profile.refresh_from_db()
    assert profile.account_ref == "ACC-bob"


def test_a_fee_rule_change_keeps_its_old_values_in_the_audit_log(administrator):
    rule = FeeRule.objects.create(category="unsupported_token", flat_usd_cents=500, percent_bps=0)
    form = {"category": "unsupported_token", "flat_usd_cents": "9900", "percent_bps": "0", "active": "on"}
    form.update(cap_usd_cents="", free_below_usd_cents="0", include_network_cost="on", network="")
    response = administrator.post(f"/admin/recovery/feerule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]

    event = CaseEvent.objects.get(chain="system", kind="config_changed")
    assert event.data["model"] == "recovery.FeeRule"
    assert event.data["changes"]["flat_usd_cents"] == {"old": "500", "new": "9900"}
    assert event.actor.username == "root" and event_log_verify() == []
