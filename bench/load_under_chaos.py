"""Benchmark (battery item 7): the user API under load while the money workers are being SIGKILLed.

Setting: a throwaway PostgreSQL database (created and dropped here) with seeded users and cases, an anvil
node mining a block a second, `manage.py runserver` (threaded; requirements.txt has no production server),
and the pipeline: worker process groups on every queue and one beat, over Redis db 7 (never RabbitMQ:
other test runs purge its queues). Half of the auto-return refunds are queued before the start, the other
half arrive as wrong deposits during the load (the scanner detects them, the workers triage and pay them).
Chaos: failpoints SIGKILL pool children on the money path, and every 2-6 s a whole worker group is
SIGKILLed and started again. Load: a threaded client lists cases, opens case pages and files new cases
(lookup, file, then open the new case) against real deposits on anvil, for a fixed time. Then the kills
stop, the workers are restarted without failpoints and finish the refunds (or a deadline passes).

Printed: requests and p50/p95/p99 per endpoint, 5xx and other unexpected statuses, cases filed (201) vs
found in the database, refunds queued vs confirmed, payments counted on-chain per deposit address, the
reconciliation, worker kills and failpoint deaths. Exits 1 when a goal is missed.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/recovery .venv/bin/python bench/load_under_chaos.py
        [--duration 60] [--threads 4] [--refunds 20] [--filings 300] [--workers 2] [--settle 180]
        [--resend-every 10] [--failpoints after_sign:0.2,...] [--seed 7]

A SIGKILLed worker's unacked messages stay in Redis until the visibility timeout (6 h); the system's own
sweeper re-sends refunds idle for 5 minutes. `--resend-every` plays that sweeper on a short clock (as the
crash test does) so a run takes minutes; `--resend-every 0` leaves recovery to the real sweeper (then give
`--settle` 420 s or more).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import redis
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from case_data import HEAVY_USER_CASES, heavy_user_cases  # noqa: E402 (beside this script)

from bench.pipeline import Pipeline, stop  # noqa: E402

BROKER = "redis://127.0.0.1:6379/7"
# This process publishes too (the first refunds, the re-sends): to the same Redis database.
os.environ["CELERY_BROKER_URL"] = BROKER
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recovery.settings")
CONFIRMATIONS = 2
REFUND_TOKENS = 10 * 10**18  # each wrong deposit to be returned: 10 NRT at $1
FILING_TOKENS = 5 * 10**18  # each deposit a user files a case for: 5 TT, unpriced (the policy ignores it)
REFUND_TO = "0x" + "4" * 40  # where filers want their tokens back
DEFAULT_FAILPOINTS = (
    "after_sign:0.2,after_commit:0.2,after_broadcast:0.2,after_receipt:0.2,after_top_up_commit:0.2"
)
QUEUES = "scan,verify,refunds,notify"
LIST, DETAIL = "GET /api/cases/ (list)", "GET /api/cases/<ref>/ (detail)"
LOOKUP, FILE, FILED = "POST /api/lookups/", "POST /api/cases/ (file)", "GET /api/cases/<new ref>/"
EXPECTED = {LIST: 200, DETAIL: 200, LOOKUP: 200, FILE: 201, FILED: 200}
FILE_SHARE, LIST_SHARE = 0.1, 0.55  # of the client's iterations; the rest open case pages
OPEN = ("queued", "signing", "signed", "broadcast")


@dataclass(frozen=True)
class Filer:
    """A user with their own deposit address, a real deposit to it on anvil, an API token and a TOTP."""

    token: str
    device: Any  # a confirmed TOTPDevice: the client computes its codes
    address: str
    txid: str = ""


@dataclass
class Tally:
    """Every request's latency and status by endpoint, and the references of the cases filed."""

    samples: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: collections.defaultdict(list))
    filed: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, label: str, ms: float, status: int) -> None:
        with self.lock:
            self.samples[label].append((ms, status))


def database_urls() -> tuple[str, str, str]:
    """The admin URL (the server's `postgres` database), the throwaway database's URL and its name."""
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/recovery"))
    name = f"recovery_chaos_{uuid.uuid4().hex[:8]}"
    return base._replace(path="/postgres").geturl(), base._replace(path=f"/{name}").geturl(), name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- setup -------------------------------------------------------------------------------------------


def cases_populate(network, total: int) -> tuple[str, list[str]]:
    """The listing user's cases among `total`; returns their API token and a sample of their references."""
    from rest_framework.authtoken.models import Token

    from recovery.models import RecoveryCase

    heavy = heavy_user_cases(network, total, other_users=200, destination=REFUND_TO)
    sample = RecoveryCase.objects.filter(user=heavy).order_by("?").values_list("reference", flat=True)[:50]
    return Token.objects.create(user=heavy).key, [str(r) for r in sample]


def filers_create(count: int) -> list[Filer]:
    """Users who will each file one case: a profile, an own deposit address, an API token, a TOTP device."""
    from django.contrib.auth import get_user_model
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from eth_utils import keccak, to_checksum_address
    from rest_framework.authtoken.models import Token

    from recovery.models import DepositAddress, UserProfile

    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"filer{n}", email=f"filer{n}@example.com") for n in range(count)]
    )
    UserProfile.objects.bulk_create(
        UserProfile(user=u, account_ref=f"ACC-filer{n}") for n, u in enumerate(users)
    )
    addresses = [to_checksum_address(keccak(text=f"chaos filer {n}")[12:]) for n in range(count)]
    DepositAddress.objects.bulk_create(
        DepositAddress(family="evm", address=a, owner_ref=f"ACC-filer{n}") for n, a in enumerate(addresses)
    )
    tokens = Token.objects.bulk_create(Token(user=u, key=Token.generate_key()) for u in users)
    devices = TOTPDevice.objects.bulk_create(TOTPDevice(user=u, name="phone", confirmed=True) for u in users)
    return [Filer(t.key, d, a) for t, d, a in zip(tokens, devices, addresses, strict=True)]


def network_create(node, disperse: str):
    from recovery.models import Network

    return Network.objects.create(
        slug="anvil", name="Anvil", family="evm", chain_id=31337, confirmations=CONFIRMATIONS,
        native_symbol="ETH", rpc_url=node.url, scan_enabled=False,
        options={"eip1559": True, "traces": False, "scan_batch": 50, "start_block": node.head() + 1,
                 "gas_disperse": disperse},
    )  # fmt: skip


def refund_addresses_create(node, count: int) -> list[str]:
    """Deposit addresses whose keys the signer derives; every other one holds dust from a past sweep."""
    from django.conf import settings

    from chains.evm.signer import LocalHDSigner
    from recovery.models import DepositAddress

    signer = LocalHDSigner(settings.SIGNER_MNEMONIC)
    node.set_balance(signer.gas_wallet_address(), 10**21)
    addresses = [signer.address(5000 + n) for n in range(count)]
    DepositAddress.objects.bulk_create(
        DepositAddress(family="evm", address=a, owner_ref="ACC-bench", derivation_index=5000 + n)
        for n, a in enumerate(addresses)
    )
    for address in addresses[::2]:
        node.set_balance(address, 10**9)  # its top-up may share a disperse batch
    return addresses


def confirmed_deep(node, txids: list[str]) -> None:
    """Wait until every transaction is mined and the last one has the confirmation depth on top."""
    last = max(int(node.wait_receipt(t, timeout=30)["blockNumber"], 16) for t in txids)
    deadline = time.monotonic() + 60
    while node.head() < last + CONFIRMATIONS:
        if time.monotonic() > deadline:
            raise TimeoutError("anvil stopped mining")
        time.sleep(0.2)


def refunds_queue(network, txids: list[str]) -> list[int]:
    """Scan and triage in this process, as refund_pipeline.queue_refunds does: queued auto-return refunds.
    Their first refund_advance messages go to Redis on commit and wait there for the workers."""
    from recovery.deposits.scanning import network_scan
    from recovery.deposits.triage import deposit_triage
    from recovery.models import Deposit, RecoveryCase, Refund
    from recovery.payouts.execution import case_execute

    network_scan(network_id=network.pk)
    for deposit_id in Deposit.objects.filter(txid__in=txids).values_list("pk", flat=True):
        deposit_triage(deposit_id=deposit_id)
        for case_id in RecoveryCase.objects.filter(deposit_id=deposit_id).values_list("pk", flat=True):
            case_execute(case_id=case_id)  # what a worker does on the approval's commit
    ids = list(Refund.objects.filter(deposit__txid__in=txids).values_list("pk", flat=True))
    if len(ids) != len(txids):
        raise RuntimeError(f"the policy queued {len(ids)} refunds for {len(txids)} deposits")
    return ids


# --- the pipeline and the chaos ----------------------------------------------------------------------


def chaos(pipeline: Pipeline, halt: threading.Event, rng: random.Random) -> None:
    """SIGKILL a random worker group every 2-6 s, and start it again at once."""
    while not halt.wait(rng.uniform(2.0, 6.0)):
        pipeline.kill(rng.randrange(len(pipeline.slots)))
        pipeline.revive()


def sweeper(halt: threading.Event, every: float, resent: collections.Counter) -> None:
    """The stuck-refund sweeper on a short clock: re-send every unfinished refund (duplicates are safe)."""
    from django.db import connection

    from recovery.models import Refund
    from recovery.payouts import tasks

    try:
        while not halt.wait(every):
            for refund_id in Refund.objects.filter(state__in=OPEN).values_list("pk", flat=True):
                tasks.refund_advance.delay(refund_id)
                resent["messages"] += 1
    finally:
        connection.close()


def depositor(node, token, sender: str, addresses: list[str], duration: float, halt: threading.Event) -> None:
    """Wrong deposits at even intervals during the load: the scanner and workers must find and return them."""
    gap = duration / (len(addresses) + 1)
    for address in addresses:
        if halt.wait(gap):
            return
        node.transact(token, "transfer", address, REFUND_TOKENS, sender=sender, wait=False)


# --- the load ----------------------------------------------------------------------------------------


class Client:
    """One of the load threads: lists and opens the listing user's cases, and files cases for the filers."""

    def __init__(self, base: str, token: str, references: list[str], filers: list[Filer], tally: Tally):
        self.base, self.token, self.references = base, token, references
        self.filers, self.tally = filers, tally
        self.filers_lock = threading.Lock()

    def call(self, session, label: str, method: str, path: str, token: str, body=None):
        started = time.perf_counter()
        try:
            response = session.request(
                method, self.base + path, headers={"Authorization": f"Token {token}"}, json=body, timeout=30
            )
        except requests.RequestException:
            response = None
        status = response.status_code if response is not None else 0
        self.tally.add(label, (time.perf_counter() - started) * 1000, status)
        return response

    def run(self, seed: int, until: float) -> None:
        rng = random.Random(seed)
        pages = HEAVY_USER_CASES // 25
        with requests.Session() as session:
            while time.monotonic() < until:
                roll = rng.random()
                if roll < FILE_SHARE and self.file(session):
                    continue
                if roll < LIST_SHARE:
                    self.call(session, LIST, "GET", f"/api/cases/?page={rng.randint(1, pages)}", self.token)
                else:
                    reference = rng.choice(self.references)
                    self.call(session, DETAIL, "GET", f"/api/cases/{reference}/", self.token)

    def file(self, session) -> bool:
        """Look the filer's deposit up, file the case, open it as the filer. False when no deposit is left."""
        from recovery.accounts.second_factor import totp_now

        with self.filers_lock:
            filer = self.filers.pop() if self.filers else None
        if filer is None:
            return False
        looked = self.call(
            session, LOOKUP, "POST", "/api/lookups/", filer.token, {"network": "anvil", "txid": filer.txid}
        )
        if looked is None or looked.status_code != 200:
            return True
        body = {
            "quote_token": looked.json()["quote_token"],
            "refund_destination": REFUND_TO,
            "accept_fee": True,
            "otp_code": totp_now(filer.device),
        }
        filed = self.call(session, FILE, "POST", "/api/cases/", filer.token, body)
        if filed is None or filed.status_code != 201:
            return True
        reference = filed.json()["reference"]
        with self.tally.lock:
            self.tally.filed.append(reference)
        self.call(session, FILED, "GET", f"/api/cases/{reference}/", filer.token)
        return True


def server_start(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"]
    with open(log, "w") as out:
        server = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    wait_listening(port, server)
    return server


# --- the verdict -------------------------------------------------------------------------------------


def load_report(tally: Tally, missed: list[str]) -> None:
    print(f"{'endpoint':<34}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}  statuses")
    server_errors = unexpected = 0
    for label in EXPECTED:
        samples = tally.samples.get(label, [])
        if not samples:
            print(f"{label:<34}{0:>9}")
            continue
        ms = [m for m, _ in samples]
        statuses = collections.Counter(status for _, status in samples)
        server_errors += sum(n for status, n in statuses.items() if status >= 500)
        unexpected += sum(n for status, n in statuses.items() if status != EXPECTED[label] and status < 500)
        shown = " ".join(f"{status or 'no answer'}:{n}" for status, n in sorted(statuses.items()))
        print(
            f"{label:<34}{len(samples):>9}{percentile(ms, 50):>9.1f}{percentile(ms, 95):>9.1f}"
            f"{percentile(ms, 99):>9.1f}  {shown}"
        )
    print(f"5xx: {server_errors} (goal 0); other unexpected statuses or no answer: {unexpected} (goal 0)")
    if server_errors:
        missed.append(f"{server_errors} server errors")
    if unexpected:
        missed.append(f"{unexpected} unexpected statuses")


def cases_report(tally: Tally, filers_total: int, filers_left: int, missed: list[str]) -> None:
    from recovery.models import RecoveryCase

    found = RecoveryCase.objects.filter(reference__in=tally.filed).count()
    in_db = RecoveryCase.objects.filter(origin="user", user__username__startswith="filer").count()
    lost = len(tally.filed) - found
    print(
        f"cases filed (201): {len(tally.filed)}; found in the database: {found}; lost: {lost} (goal 0); "
        f"filers' cases in the database: {in_db} (a case without a 201: {in_db - found}); "
        f"deposits filed for: {filers_total - filers_left} of {filers_total}"
    )
    if lost or in_db != found:
        missed.append(f"cases: {lost} lost, {in_db - found} without a 201")


def refunds_report(world: World, missed: list[str]) -> None:
    from recovery.models import Refund

    node, addresses = world.node, world.refund_addresses
    refunds = list(Refund.objects.filter(sender__in=addresses))
    states = collections.Counter(r.state for r in refunds)
    confirmed = [r for r in refunds if r.state == "confirmed"]
    to_paid = [(r.confirmed_at - r.created_at).total_seconds() for r in confirmed]
    timing = (
        f"; queued -> confirmed p50 {percentile(to_paid, 50):.0f}s, max {max(to_paid):.0f}s, "
        f"over a minute: {sum(1 for t in to_paid if t > 60)}"
        if to_paid
        else ""
    )
    print(
        f"refunds: {len(addresses)} wrong deposits, {len(refunds)} refunds queued, "
        f"{len(confirmed)} confirmed {dict(states)}{timing}"
    )
    nonces = [int(node.rpc.call("eth_getTransactionCount", [a, "latest"]), 16) for a in addresses]
    doubles = sum(max(0, n - 1) for n in nonces)
    balance = node.call(world.refund_token, "balanceOf", world.refund_sender)
    returned = balance - (world.minted - len(addresses) * REFUND_TOKENS)
    recorded = sum(r.amount for r in confirmed)
    # An unfinished refund may be mined already: what came back lies between the confirmed refunds and
    # every refund that was signed; above that, something paid twice.
    signed = sum(r.amount for r in refunds if r.state in ("signed", "broadcast", "confirmed", "needs_review"))
    print(
        f"on-chain: {sum(nonces)} transactions from {len(addresses)} deposit addresses (max nonce "
        f"{max(nonces)}), double payments {doubles} (goal 0); tokens returned to the sender "
        f"{returned / 10**18:g}, recorded as confirmed {recorded / 10**18:g}, signed {signed / 10**18:g}"
    )
    if len(confirmed) != len(addresses):
        missed.append(f"{len(addresses) - len(confirmed)} wrong deposits not paid back")
    if doubles:
        missed.append(f"{doubles} double payments")
    if not recorded <= returned <= signed:
        missed.append(f"tokens returned {returned} outside [confirmed {recorded}, signed {signed}]")


def broker_report() -> None:
    """What the broker still holds when the workers are gone, and the e-mails that were not sent.

    Messages a SIGKILLed worker had taken stay in kombu's `unacked` hash until the visibility timeout
    (6 h); refunds have a sweeper, e-mails (notify_event) do not. Informational: not a goal of this run."""
    from recovery.cases.notify import USER_VISIBLE_KINDS
    from recovery.models import CaseEvent, Notification

    client = redis.Redis.from_url(BROKER)
    try:
        held = client.hvals("unacked")
        waiting = {queue: client.llen(queue) for queue in QUEUES.split(",")}
    finally:
        client.close()
    tasks = collections.Counter(json.loads(raw)[0]["headers"]["task"].rsplit(".", 1)[-1] for raw in held)
    due = CaseEvent.objects.filter(kind__in=USER_VISIBLE_KINDS, case__user__email__gt="").count()
    print(
        f"broker at the end: {len(held)} messages held unacked by killed workers {dict(tasks)}, queued "
        f"{waiting}; e-mails: {Notification.objects.count()} sent of {due} due"
    )


def reconcile_report(network, missed: list[str]) -> None:
    from recovery.payouts.reconcile import reconcile_network

    report = reconcile_network(network)
    gas_agrees = report.gas_wallet_outflow_recorded == report.gas_wallet_outflow_on_chain
    print(
        f"reconciliation: clean {report.clean}, {report.accounts} accounts, {report.transactions} "
        f"transactions, refunds paid once {report.refunds_paid_once}, double payments "
        f"{report.double_payments}, unrecorded outflows {report.unrecorded_outflows}, mismatches "
        f"{report.mismatches}, gas-wallet outflow recorded = on-chain {gas_agrees}"
    )
    for discrepancy in report.discrepancies:
        print(f"  {discrepancy}")
    if not report.clean:
        missed.append("reconciliation not clean")


# --- main --------------------------------------------------------------------------------------------


@dataclass
class World:
    """What the setup made: the chain side, the users, and the refund deposits still to come."""

    node: Any
    network: Any
    refund_token: Any
    refund_sender: str
    minted: int
    refund_addresses: list[str]
    later: list[str]  # the deposit addresses that get their wrong deposit during the load
    heavy_token: str
    references: list[str]
    filers: list[Filer]


def world_build(node, args: argparse.Namespace) -> World:
    from dataclasses import replace

    from chains.evm.devnet import deploy_contract
    from recovery.models import AssetPrice, Network

    refund_token = deploy_contract(node, "NoReturnToken")
    filing_token = deploy_contract(node, "TestToken", ("Test Token", "TT", 18))
    network = network_create(node, deploy_contract(node, "GasDisperse").address)
    AssetPrice.objects.create(
        network=network, contract="", symbol="ETH", decimals=18, usd_micros_per_unit=3 * 10**9
    )
    AssetPrice.objects.create(
        network=network, contract=refund_token.address, symbol="NRT", decimals=18, usd_micros_per_unit=10**6
    )
    heavy_token, references = cases_populate(network, args.cases)
    filers = filers_create(args.filings)
    refund_addresses = refund_addresses_create(node, args.refunds)
    refund_sender, filing_sender = node.accounts[1], node.accounts[2]
    minted = args.refunds * REFUND_TOKENS
    node.transact(refund_token, "mint", refund_sender, minted)
    node.transact(filing_token, "mint", filing_sender, args.filings * FILING_TOKENS)
    first, later = refund_addresses[: args.refunds // 2], refund_addresses[args.refunds // 2 :]
    refund_txids = [
        node.transact(refund_token, "transfer", a, REFUND_TOKENS, sender=refund_sender, wait=False)
        for a in first
    ]
    filers = [
        replace(f, txid=node.transact(filing_token, "transfer", f.address, FILING_TOKENS,
                                      sender=filing_sender, wait=False))
        for f in filers
    ]  # fmt: skip
    confirmed_deep(node, refund_txids + [f.txid for f in filers])
    refunds_queue(network, refund_txids)
    Network.objects.filter(pk=network.pk).update(scan_enabled=True)
    return World(
        node, network, refund_token, refund_sender, minted, refund_addresses, later,
        heavy_token, references, filers,
    )  # fmt: skip


def settle(pipeline: Pipeline, addresses: list[str], deadline: float) -> float:
    """Restart the workers without failpoints and wait until every refund is done; the seconds it took."""
    from recovery.models import Refund

    pipeline.calm()
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        pipeline.revive()
        if Refund.objects.filter(sender__in=addresses).exclude(state__in=OPEN).count() == len(addresses):
            break
        time.sleep(1)
    return time.monotonic() - started


def run(args: argparse.Namespace, db_url: str, env: dict[str, str], logs: Path) -> int:
    from chains.evm.devnet import Anvil

    setup_started = time.monotonic()
    chaos_halt, sweep_halt = threading.Event(), threading.Event()
    resent: collections.Counter = collections.Counter()
    pipeline = Pipeline(
        db_url=db_url,
        broker=BROKER,
        queues=QUEUES,
        logs=logs,
        workers=args.workers,
        concurrency=2,
        failpoints=args.failpoints,
    )
    server: subprocess.Popen | None = None
    threads: list[threading.Thread] = []
    with Anvil(block_time=1) as node:
        try:
            world = world_build(node, args)
            port = free_port()
            server = server_start(port, {**env, "DB_CONN_MAX_AGE": "60"}, logs / "server.log")
            client = Client(
                f"http://127.0.0.1:{port}", world.heavy_token, world.references, world.filers, Tally()
            )
            with requests.Session() as session:  # warm up, not counted
                for _ in range(5):
                    client.call(session, "warm-up", "GET", "/api/cases/", world.heavy_token)
            print(
                f"setup {time.monotonic() - setup_started:.0f}s: {args.cases:,} cases, {args.filings} filers "
                f"with a deposit each, {args.refunds - len(world.later)} refunds queued, "
                f"{len(world.later)} wrong deposits to come during the load"
            )

            pipeline.start()
            threads = [
                threading.Thread(target=chaos, args=(pipeline, chaos_halt, random.Random(args.seed))),
                threading.Thread(
                    target=depositor,
                    args=(
                        node,
                        world.refund_token,
                        world.refund_sender,
                        world.later,
                        args.duration,
                        chaos_halt,
                    ),
                ),
            ]
            if args.resend_every > 0:
                threads.append(threading.Thread(target=sweeper, args=(sweep_halt, args.resend_every, resent)))
            for thread in threads:
                thread.start()
            until = time.monotonic() + args.duration
            with ThreadPoolExecutor(args.threads) as pool:
                list(pool.map(lambda n: client.run(args.seed + n, until), range(args.threads)))
            chaos_halt.set()
            for thread in threads[:2]:
                thread.join()
            settled = settle(pipeline, world.refund_addresses, args.settle)
            sweep_halt.set()
            for thread in threads[2:]:
                thread.join()
            pipeline.stop()
            stop(server)
            server = None
            return verdict(args, world, client, pipeline, settled, resent["messages"])
        finally:
            chaos_halt.set()
            sweep_halt.set()
            for thread in threads:
                thread.join()
            pipeline.stop()
            if server is not None:
                stop(server)


def verdict(
    args: argparse.Namespace, world: World, client: Client, pipeline: Pipeline, settled: float, resent: int
) -> int:
    """Print the figures; 1 when a goal is missed."""
    missed: list[str] = []
    print(
        f"\nload {args.duration:.0f}s, {args.threads} client threads, runserver; chaos: "
        f"{args.workers} worker groups x 2 children + 1 beat on Redis, failpoints {args.failpoints}"
    )
    load_report(client.tally, missed)
    cases_report(client.tally, args.filings, len(client.filers), missed)
    deaths = pipeline.failpoint_deaths()
    sweeping = f"every {args.resend_every:g}s ({resent} re-sends)" if args.resend_every > 0 else "off"
    print(
        f"chaos: {pipeline.kills} worker groups SIGKILLed, {sum(deaths.values())} pool children died at "
        f"failpoints {dict(deaths)}, {pipeline.unexpected_exits} unexpected worker exits; after the load "
        f"the refunds settled in {settled:.0f}s (deadline {args.settle:.0f}s); fast sweeper {sweeping}"
    )
    refunds_report(world, missed)
    broker_report()
    reconcile_report(world.network, missed)
    print("goals: all met" if not missed else "goals MISSED: " + "; ".join(missed))
    return 1 if missed else 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60, help="seconds of load under chaos")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument(
        "--refunds", type=int, default=20, help="wrong deposits to return (half during the load)"
    )
    parser.add_argument("--filings", type=int, default=300, help="deposits users may file cases for")
    parser.add_argument("--cases", type=int, default=20_000, help="cases seeded in the database")
    parser.add_argument("--workers", type=int, default=2, help="worker process groups (2 children each)")
    parser.add_argument("--failpoints", default=DEFAULT_FAILPOINTS)
    parser.add_argument("--settle", type=float, default=180, help="deadline for the refunds after the load")
    parser.add_argument("--resend-every", type=float, default=10, help="the fast sweeper's period (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    admin_url, db_url, name = database_urls()
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    broker = redis.Redis.from_url(BROKER)
    broker.flushdb()  # db 7 is this benchmark's own
    logs = Path(tempfile.mkdtemp(prefix="bench-chaos-"))
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return run(args, db_url, env, logs)
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        broker.flushdb()
        broker.close()
        print(f"logs (server, workers, beat, failpoints): {logs}")


if __name__ == "__main__":
    sys.exit(main())
