"""The queue's filters and the case view's evidence, side by side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.audit.events import event_record
from recovery.audit.roles import Actor
from recovery.models import Origin, ScreenedAddress, State
from tests.factories import make_case, make_deposit, make_network

pytestmark = pytest.mark.django_db


def listed(client, query: str = "") -> set[str]:
    response = client.get(f"/staff/?{query}")
    assert response.status_code == 200
    return {case.short_ref for case in response.context["page"]}


@pytest.fixture
def queue(network, users):
    other = make_network("bsc", chain_id=56, native_symbol="BNB")
    now = timezone.now()
    cases = {
        "small_user": make_case(network, users.alice, state=State.AWAITING_REVIEW, value_usd_cents=5_000),
        "big_auto": make_case(
            network, None, origin=Origin.AUTO, category="nft", state=State.VERIFYING, value_usd_cents=900_000
        ),
        "bsc_near": make_case(
            other, users.bob, category="wrong_network", sla_flag="near", value_usd_cents=20_000
        ),
        "breached": make_case(network, users.bob, sla_flag="breached", sla_due_at=now - timedelta(hours=1)),
        "paused": make_case(network, users.alice, state=State.NEEDS_INFO, sla_paused_at=now),
        "closed": make_case(network, users.alice, state=State.COMPLETED),
    }
    cases["small_user"].assignee = users.agent
    cases["small_user"].save()
    return {name: case.short_ref for name, case in cases.items()}


def test_the_queue_shows_open_cases_and_filters_by_every_dimension(queue, users, staff_client):
    agent = staff_client(users.agent)
    everything_open = {ref for name, ref in queue.items() if name != "closed"}

    assert listed(agent) == everything_open
    assert listed(agent, "state=all") == set(queue.values())
    assert listed(agent, "state=needs_info") == {queue["paused"]}
    assert listed(agent, "category=nft") == {queue["big_auto"]}
    assert listed(agent, "network=bsc") == {queue["bsc_near"]}
    assert listed(agent, "origin=auto") == {queue["big_auto"]}
    assert listed(agent, "min_usd=100&max_usd=1000") == {queue["bsc_near"]}
    assert listed(agent, "min_usd=5000") == {queue["big_auto"]}
    assert listed(agent, "sla=near") == {queue["bsc_near"]}
    assert listed(agent, "sla=breached") == {queue["breached"]}
    assert listed(agent, "sla=paused") == {queue["paused"]}
    assert listed(agent, "assigned=me") == {queue["small_user"]}
    assert queue["small_user"] not in listed(agent, "assigned=none")
    assert listed(agent, f"q={queue['closed'].lower()}&state=all") == {queue["closed"]}


def test_the_queue_is_for_staff_only(network, users, client):
    assert client.get("/staff/").status_code == 302  # anonymous: to the staff login
    client.force_login(users.alice)
    assert client.get("/staff/").status_code == 403


def test_the_case_view_puts_claim_chain_screening_duplicates_and_timeline_side_by_side(
    network, users, staff_client
):
    deposit = make_deposit(
        network,
        sender="0x5555555555555555555555555555555555555555",
        tokens=[{"protocol": "runes", "name": "DOG•GO•TO•THE•MOON", "amount": "777"}],
    )
    destination = "0x6666666666666666666666666666666666666666"
    ScreenedAddress.objects.create(
        family="evm", address=destination, kind="exchange_hot_wallet", label="Hot wallet of ExchangeX"
    )
    case = make_case(
        network,
        users.alice,
        state=State.AWAITING_REVIEW,
        deposit=deposit,
        txid=deposit.txid,
        refund_destination=destination,
        claim={"amount": "1.0", "token": "PEPE"},
    )
    earlier = make_case(network, users.alice, state=State.REJECTED, txid=deposit.txid)
    same_sender = make_case(network, users.bob, deposit=make_deposit(network, sender=deposit.sender.upper()))
    event_record(case=case, kind="filed", actor=Actor.case_owner(users.alice), to_state="submitted")

    page = staff_client(users.agent).get(f"/staff/cases/{case.pk}/")
    html = page.content.decode()

    assert "PEPE" in html  # the claim
    assert deposit.sender in html and "DOG•GO•TO•THE•MOON" in html  # the chain
    assert "Hot wallet of ExchangeX" in html and "Differs from the deposit" in html  # screening
    assert "chain not reachable" in html and "no RPC endpoint" in html  # an unreachable chain, noted
    duplicates = page.context["file"].duplicates
    assert sorted((d.case.pk, d.why) for d in duplicates) == [
        (earlier.pk, ["same transaction", "same user"]),
        (same_sender.pk, ["same sender"]),
    ]
    assert [e.kind for e in page.context["file"].timeline] == ["filed"]


@pytest.mark.anvil
def test_the_contract_check_asks_a_reachable_chain(users, staff_client, anvil, evm_contracts):
    network = make_network("anvil", rpc_url=anvil.url)
    contract = next(iter(evm_contracts.values())).address
    as_contract = make_case(network, users.alice, refund_destination=contract)
    as_wallet = make_case(network, users.bob, refund_destination="0x" + "7" * 40)
    agent = staff_client(users.agent)

    on_contract = agent.get(f"/staff/cases/{as_contract.pk}/").context["file"].screening
    on_wallet = agent.get(f"/staff/cases/{as_wallet.pk}/").context["file"].screening

    assert (on_contract.is_contract, on_contract.note) == (True, "")
    assert (on_wallet.is_contract, on_wallet.note) == (False, "")


def test_the_queue_and_case_pages_do_not_query_per_row(network, users, staff_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    agent = staff_client(users.agent)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert agent.get(url).status_code == 200
        return len(captured)

    case = make_case(network, users.alice, state=State.AWAITING_REVIEW, txid="0x" + "a" * 64)
    queries("/staff/"), queries(f"/staff/cases/{case.pk}/")  # warm up: session and permission caches
    few_queue, few_case = queries("/staff/"), queries(f"/staff/cases/{case.pk}/")
    for _ in range(30):
        make_case(network, users.alice, assignee=users.agent, txid="0x" + "a" * 64)
    assert queries("/staff/") == few_queue
    assert queries(f"/staff/cases/{case.pk}/") == few_case
