"""GET /metrics: scan lag, queue depths, cases and refunds by state, deposit-to-refund time (Prometheus text).

A prometheus_client custom collector computes every value at scrape time from the database, the broker and
the chains: no counters live in any process, so web, worker and beat need no shared multiprocess
directory, and every web process answers the same.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from kombu import Connection
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from chains.base import ChainError
from recovery.celery import app
from recovery.deposits.triage import deposits_parked
from recovery.models import Network, RecoveryCase, Refund, RefundState, ScanCursor, State, UnreadTransferLog
from recovery.onchain.registry import chain_for

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Upper bounds (seconds) of the deposit-to-refund histogram: from the auto-return path to week-long cases.
REFUND_TIME_BUCKETS = (10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400)
UNKNOWN = -1


# --- what is measured ---------------------------------------------------------------------------


def _scan_families(*, timeout: float) -> list[Metric]:
    """Per scanned network: the chain head now, the scan cursor, and the blocks between them.

    The head is asked of the node at scrape time (the scanner does not store the head it saw), all networks
    in parallel and bounded by `timeout`; an unreachable node reports -1. A healthy lag is about the
    network's confirmation depth plus the blocks of one scan interval: the scanner stays that far behind.
    """
    networks = list(Network.objects.filter(scan_enabled=True).order_by("slug"))
    cursors = dict(ScanCursor.objects.filter(network__in=networks).values_list("network_id", "last_block"))
    heads = _chain_heads(networks, timeout=timeout)
    by_network = ["network"]
    head = GaugeMetricFamily(
        "recovery_chain_head_block",
        "Latest block of the network's node (-1: unreachable).",
        labels=by_network,
    )
    cursor = GaugeMetricFamily(
        "recovery_scan_cursor_block", "Last block whose transfers are recorded.", labels=by_network
    )
    depth = GaugeMetricFamily(
        "recovery_scan_confirmations", "Blocks the scanner stays behind on purpose.", labels=by_network
    )
    lag = GaugeMetricFamily(
        "recovery_scan_lag_blocks", "Chain head minus scan cursor (-1: unknown).", labels=by_network
    )
    for network in networks:
        known_head, last = heads.get(network.pk, UNKNOWN), cursors.get(network.pk)
        head.add_metric([network.slug], known_head)
        if last is not None:
            cursor.add_metric([network.slug], last)
        depth.add_metric([network.slug], network.confirmations)
        known = known_head != UNKNOWN and last is not None
        lag.add_metric([network.slug], known_head - last if known else UNKNOWN)
    return [head, cursor, depth, lag]


def _chain_heads(networks: Sequence[Network], *, timeout: float) -> dict[int, int]:
    if not networks:
        return {}
    heads: dict[int, int] = {}
    chains = {}
    for network in networks:  # here, not in the pool: building an adapter reads the database
        try:
            chains[network.pk] = chain_for(network)
        except ChainError as error:
            log.warning("metrics: no chain adapter: %s", error, extra={"network": network.slug})
    pool = ThreadPoolExecutor(max_workers=min(8, len(networks)), thread_name_prefix="metrics-head")
    futures = {network_id: pool.submit(chain.head) for network_id, chain in chains.items()}
    for network_id, future in futures.items():
        try:
            heads[network_id] = int(future.result(timeout=timeout))
        except FutureTimeout:
            log.warning("metrics: chain head timed out", extra={"network": network_id})
        except Exception as error:  # any node or configuration failure is reported as -1, not a 500
            log.warning("metrics: chain head unavailable: %s", error, extra={"network": network_id})
    pool.shutdown(wait=False, cancel_futures=True)  # a stuck node must not hold the scrape
    return heads


def queue_depths(
    *, broker_url: str, transport_options: dict, queues: Sequence[str]
) -> tuple[dict[str, int], bool]:
    """Messages waiting per queue, and whether the broker answered (-1 per queue when it did not).

    The filesystem broker is a folder: its messages are files named `<time>_<uuid>.<queue>.msg`. Other
    brokers (RabbitMQ) answer a passive queue_declare with the queue's message count, without creating it.
    """
    if broker_url.startswith("filesystem://"):
        folder = Path(transport_options.get("data_folder_in", ""))
        try:
            names = [name.partition(".")[2] for name in (p.name for p in folder.iterdir())]
        except OSError:
            return dict.fromkeys(queues, UNKNOWN), False
        return {queue: names.count(f"{queue}.msg") for queue in queues}, True
    depths = dict.fromkeys(queues, UNKNOWN)
    try:
        with Connection(broker_url, connect_timeout=2, transport_options=transport_options) as connection:
            connection.ensure_connection(max_retries=1)
            for queue in queues:
                # A passive declare of a missing queue closes the channel: one channel per queue.
                with connection.channel() as channel:
                    try:
                        depths[queue] = channel.queue_declare(queue=queue, passive=True).message_count
                    except connection.channel_errors:
                        log.warning("metrics: queue %s does not exist on the broker", queue)
    except Exception as error:  # an unreachable broker is a metric (recovery_broker_up 0), not a 500
        log.warning("metrics: broker unavailable: %s", error)
        return dict.fromkeys(queues, UNKNOWN), False
    return depths, True


def _broker_families() -> list[Metric]:
    depths, up = queue_depths(
        broker_url=str(app.conf.broker_url),
        transport_options=dict(app.conf.broker_transport_options or {}),
        queues=settings.QUEUE_NAMES,
    )
    broker = GaugeMetricFamily("recovery_broker_up", "1 if the Celery broker answered this scrape, else 0.")
    broker.add_metric([], int(up))
    depth = GaugeMetricFamily(
        "recovery_queue_depth", "Messages waiting in a Celery queue (-1: unknown).", labels=["queue"]
    )
    for queue, count in depths.items():
        depth.add_metric([queue], count)
    return [broker, depth]


def _state_families() -> list[Metric]:
    cases = GaugeMetricFamily("recovery_cases", "Recovery cases by state.", labels=["state"])
    counted = dict(
        RecoveryCase.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    for state in State.values:
        cases.add_metric([state], counted.get(state, 0))
    refunds = GaugeMetricFamily("recovery_refunds", "Refunds by state.", labels=["state"])
    counted = dict(Refund.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    for state in RefundState.values:
        refunds.add_metric([state], counted.get(state, 0))
    parked = GaugeMetricFamily(
        "recovery_deposits_triage_parked", "Deposits whose triage failed, waiting to be tried again."
    )
    parked.add_metric([], deposits_parked().count())
    unread = GaugeMetricFamily(
        "recovery_unread_transfer_logs", "Transfer logs naming our addresses that no decoder reads."
    )
    unread.add_metric([], UnreadTransferLog.objects.count())
    return [cases, refunds, parked, unread]


def _refund_time_family() -> Metric:
    """Histogram of confirmed refunds' confirmed_at - deposit.detected_at, counted by the database."""
    took = ExpressionWrapper(F("confirmed_at") - F("deposit__detected_at"), output_field=DurationField())
    confirmed = Refund.objects.filter(state=RefundState.CONFIRMED, confirmed_at__isnull=False).annotate(
        took=took
    )
    buckets = {f"le{n}": Count("pk", filter=Q(took__lte=timedelta(seconds=n))) for n in REFUND_TIME_BUCKETS}
    row = confirmed.aggregate(count=Count("pk"), total=Sum("took"), **buckets)
    buckets = [(str(float(bound)), row[f"le{bound}"]) for bound in REFUND_TIME_BUCKETS]
    total = row["total"] or timedelta(0)
    return HistogramMetricFamily(
        "recovery_deposit_to_refund_seconds",
        "From deposit detection to refund confirmation.",
        buckets=[*buckets, ("+Inf", row["count"])],
        sum_value=round(total.total_seconds(), 3),
    )


class RecoveryCollector:
    """Everything /metrics shows, computed when it is scraped."""

    def collect(self) -> Iterator[Metric]:
        yield from _scan_families(timeout=settings.METRICS_HEAD_TIMEOUT_SECONDS)
        yield from _broker_families()
        yield from _state_families()
        yield _refund_time_family()


def metrics_text() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RecoveryCollector())
    return generate_latest(registry).decode()


# --- the endpoint ---------------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    """A loopback client (when allowed), or the bearer token of settings.METRICS_TOKEN."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip().encode(), token.encode())
    if not settings.METRICS_ALLOW_LOCALHOST:
        return False
    try:
        return ipaddress.ip_address(request.META.get("REMOTE_ADDR", "")).is_loopback
    except ValueError:
        return False


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        return HttpResponse("metrics: from localhost or with the bearer token only\n", status=403)
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)


# Included at /metrics by recovery/urls.py.
urlpatterns = [path("", metrics_view, name="metrics")]
