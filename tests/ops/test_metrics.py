"""GET /metrics: who may read it, and the values it reports (expected values worked out by hand)."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from kombu import Connection

from recovery.celery import app as celery_app
from recovery.models import Deposit, Network, Refund, ScanCursor, State
from recovery.onchain.registry import forget_chains
from recovery.ops.metrics import queue_depths
from tests.factories import make_case, make_deposit, make_network
from tests.processes import BROKER_URL, require_service

pytestmark = pytest.mark.django_db
SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')


def scrape(client, **extra) -> dict[str, str]:
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    samples = {}
    for line in response.content.decode().splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
            continue
        assert SAMPLE.match(line), f"not Prometheus text: {line!r}"
        name, value = line.rsplit(" ", 1)
        number = float(value)  # Prometheus values are floats: "3.0" and "3" are the same sample
        samples[name] = str(int(number)) if number.is_integer() else value
    return samples


def refund_for(network: Network, *, state: str, took: timedelta | None = None) -> Refund:
    deposit = make_deposit(network)
    case = make_case(network, state=State.COMPLETED, deposit=deposit)
    now = timezone.now()
    if took is not None:
        Deposit.objects.filter(pk=deposit.pk).update(detected_at=now - took)
    return Refund.objects.create(
        case=case,
        deposit=deposit,
        network=network,
        state=state,
        destination="0x4444444444444444444444444444444444444444",
        standard="erc20",
        amount=10**18,
        sender=deposit.recipient,
        raw_tx="0x02f8",
        tx_hash=f"0x{uuid.uuid4().hex}",
        confirmed_at=now if state == "confirmed" else None,
    )


# --- who may read it ------------------------------------------------------------------------------


def test_metrics_answer_a_loopback_client_without_a_token(client):
    assert "recovery_broker_up" in scrape(client)


def test_metrics_refuse_a_remote_client_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 403


def test_metrics_answer_a_remote_client_with_the_bearer_token(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    good = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secret-1")
    bad = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer scrape-secret-2")
    assert (good.status_code, bad.status_code) == (200, 403)


def test_a_wrong_token_is_refused_even_from_loopback(client, settings):
    settings.METRICS_TOKEN = "scrape-secret-1"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 403


def test_loopback_needs_the_token_when_localhost_access_is_off(client, settings):
    settings.METRICS_ALLOW_LOCALHOST = False
    assert client.get("/metrics").status_code == 403
    settings.METRICS_TOKEN = "scrape-secret-1"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-1").status_code == 200


def test_metrics_accept_only_get(client):
    assert client.post("/metrics").status_code == 405


# --- what it reports ------------------------------------------------------------------------------


def test_cases_and_refunds_are_counted_by_state(client, network):
    make_case(network, state=State.AWAITING_REVIEW)
    refund_for(network, state="confirmed")
    refund_for(network, state="confirmed")
    refund_for(network, state="failed")
    samples = scrape(client)
    assert samples['recovery_cases{state="completed"}'] == "3"
    assert samples['recovery_cases{state="awaiting_review"}'] == "1"
    assert samples['recovery_cases{state="submitted"}'] == "0"
    assert samples['recovery_refunds{state="confirmed"}'] == "2"
    assert samples['recovery_refunds{state="failed"}'] == "1"
    assert samples['recovery_refunds{state="queued"}'] == "0"


def test_deposit_to_refund_time_is_a_histogram_of_confirmed_refunds(client, network):
    refund_for(network, state="confirmed", took=timedelta(seconds=45))
    refund_for(network, state="confirmed", took=timedelta(hours=2))
    refund_for(network, state="failed", took=timedelta(seconds=5))  # never paid: not counted
    samples = scrape(client)
    name = "recovery_deposit_to_refund_seconds"
    expected = {
        "10.0": "0",
        "30.0": "0",
        "60.0": "1",
        "120.0": "1",
        "3600.0": "1",
        "14400.0": "2",
        "+Inf": "2",
    }
    for bound, count in expected.items():
        assert samples[f'{name}_bucket{{le="{bound}"}}'] == count, bound
    assert samples[f"{name}_count"] == "2"
    assert abs(float(samples[f"{name}_sum"]) - 7245) < 1  # 45 s + 7200 s, give or take the test's runtime


@pytest.mark.anvil
def test_scan_lag_is_the_chain_head_minus_the_scan_cursor(client, anvil):
    forget_chains()
    head = anvil.head()
    scanned = make_network("lagnet", rpc_url=anvil.url, scan_enabled=True, confirmations=2)
    ScanCursor.objects.create(network=scanned, last_block=head - 5)
    dead = make_network("deadnet", rpc_url="http://127.0.0.1:9", scan_enabled=True)
    ScanCursor.objects.create(network=dead, last_block=10)
    samples = scrape(client)
    assert samples['recovery_chain_head_block{network="lagnet"}'] == str(head)
    assert samples['recovery_scan_cursor_block{network="lagnet"}'] == str(head - 5)
    assert samples['recovery_scan_lag_blocks{network="lagnet"}'] == "5"
    assert samples['recovery_scan_confirmations{network="lagnet"}'] == "2"
    assert samples['recovery_chain_head_block{network="deadnet"}'] == "-1"
    assert samples['recovery_scan_lag_blocks{network="deadnet"}'] == "-1"
    forget_chains()


def test_queue_depth_counts_the_messages_of_the_filesystem_broker(tmp_path):
    # Every folder under tmp_path: kombu puts its control folder in the working directory otherwise.
    options = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "control_folder": str(tmp_path / "control"),
    }
    with Connection("filesystem://", transport_options=options) as connection:
        for queue, count in (("scan", 3), ("refunds", 1)):
            simple = connection.SimpleQueue(queue)
            for n in range(count):
                simple.put({"n": n})
            simple.close()
    depths, up = queue_depths(
        broker_url="filesystem://", transport_options=options, queues=("scan", "verify", "refunds")
    )
    assert (depths, up) == ({"scan": 3, "verify": 0, "refunds": 1}, True)


def test_an_unreachable_broker_reports_minus_one_and_broker_down(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", "amqp://guest:guest@127.0.0.1:9//")
    samples = scrape(client)
    assert samples["recovery_broker_up"] == "0"
    assert samples['recovery_queue_depth{queue="refunds"}'] == "-1"


@pytest.mark.services
def test_queue_depth_on_rabbitmq_is_a_passive_declare(tmp_path):
    require_service(BROKER_URL)
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    with Connection(BROKER_URL) as connection:
        simple = connection.SimpleQueue(queue)
        simple.put({"n": 1})
        simple.put({"n": 2})
        try:
            # Another connection may see the publishes a moment later: ask until they show (or give up).
            for _ in range(50):
                depths, up = queue_depths(
                    broker_url=BROKER_URL, transport_options={}, queues=(queue, f"{queue}-never-declared")
                )
                if depths[queue] == 2:
                    break
                time.sleep(0.05)
        finally:
            simple.queue.delete()
            simple.close()
    assert up
    assert depths == {queue: 2, f"{queue}-never-declared": -1}
