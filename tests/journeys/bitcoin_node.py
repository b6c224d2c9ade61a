"""The Bitcoin side of the journey tests: a Bitcoin Core JSON-RPC fixture node that keeps making blocks, a
user's own wallet with real keys, the running system (web server, worker, beat) and a person's inbox.

Nothing here moves a case along. The node is tests/chains/bitcoin/fake_node.py served over HTTP on a free
loopback port; the processes reach it only through the Network row's `rpc_url`. The wallet signs with
python-bitcoinlib, independently of the project's signer, and broadcasts over JSON-RPC as a wallet would.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from bitcoin.core import (
    CMutableTransaction,
    COutPoint,
    CTransaction,
    CTxIn,
    CTxInWitness,
    CTxOut,
    CTxWitness,
    Hash160,
    b2lx,
    lx,
)
from bitcoin.core.script import (
    OP_0,
    OP_CHECKSIG,
    OP_DUP,
    OP_EQUALVERIFY,
    OP_HASH160,
    SIGHASH_ALL,
    SIGVERSION_WITNESS_V0,
    CScript,
    CScriptWitness,
    SignatureHash,
)
from bitcoin.wallet import CKey, P2WPKHBitcoinAddress
from django.conf import global_settings, settings
from django.db import connection
from django.test import override_settings
from django_otp.oath import TOTP

from tests.chains.bitcoin.fake_node import FIXTURES_DIR, FakeBitcoinNode, FakeBlock, funding_tx
from tests.services import (
    BROKER_URL,
    REPO,
    celery_beat,
    celery_worker,
    database_url_for_tests,
    require_service,
    wait_for,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "a-strong-pass-123"  # tests.factories.make_user's
MAIL_SEPARATOR = b"-" * 79  # what Django's file-based e-mail backend writes after each message


def missing(message: str) -> None:
    """Under CI a missing dependency fails the test; on a laptop without it, it skips."""
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- the node -----------------------------------------------------------------------------------


@dataclass
class MiningNode(FakeBitcoinNode):
    """The fixture node, plus what the journey needs of a chain: blocks keep coming (each takes the whole
    mempool, as a miner would), and every transaction the node accepted over sendrawtransaction is kept."""

    accepted: dict[str, str] = field(default_factory=dict)  # txid -> raw hex, in order of acceptance
    _stop_mining: threading.Event = field(default_factory=threading.Event)
    _miner: threading.Thread | None = None

    def rpc_sendrawtransaction(self, hexstring: str, maxfeerate: Any = None) -> str:
        txid = super().rpc_sendrawtransaction(hexstring, maxfeerate)
        self.accepted.setdefault(txid, hexstring)
        return txid

    def mine_mempool(self) -> str:
        with self._lock:
            return self.mine(list(self.mempool.values()))

    def start_mining(self, every: float = 1.0) -> None:
        """A block every `every` seconds from now on, holding whatever the mempool has."""
        if self._miner is not None:
            return

        def run() -> None:
            while not self._stop_mining.wait(every):
                self.mine_mempool()

        self._miner = threading.Thread(target=run, name="fake-miner", daemon=True)
        self._miner.start()

    def stop(self) -> None:
        self._stop_mining.set()
        if self._miner is not None:
            self._miner.join(timeout=5)
        super().stop()

    @property
    def rpc_url(self) -> str:
        """The URL as a Network row stores it: credentials in the URL, as chain_registry reads them."""
        return self.url.replace("http://", f"http://{self.user}:{self.password}@")

    # --- what the chain holds (main chain only) ---

    def main_chain(self) -> list[FakeBlock]:
        with self._lock:
            return [self.blocks[h] for h in self.main]

    def confirmations_of(self, block: FakeBlock) -> int:
        with self._lock:
            return self._confirmations(block)

    def spenders(self, txid: str, vout: int) -> list[tuple[CTransaction, FakeBlock]]:
        """Every main-chain transaction spending the outpoint, with its block."""
        outpoint = (lx(txid), vout)
        return [
            (tx, block)
            for block in self.main_chain()
            for tx in block.txs
            if any((i.prevout.hash, i.prevout.n) == outpoint for i in tx.vin)
        ]

    def payments_to(self, script: bytes) -> list[tuple[CTransaction, FakeBlock]]:
        return [
            (tx, block)
            for block in self.main_chain()
            for tx in block.txs
            if any(bytes(o.scriptPubKey) == script for o in tx.vout)
        ]


@pytest.fixture
def btc_node() -> Iterator[MiningNode]:
    """A fresh Bitcoin Core JSON-RPC fixture node (mainnet addresses) on 127.0.0.1:<free port>."""
    if not FIXTURES_DIR.is_dir():
        missing(f"Bitcoin fixtures not found at {FIXTURES_DIR}")
    node = MiningNode().start()
    yield node
    node.stop()


def rpc(url: str, user: str, password: str, method: str, *params: Any) -> Any:
    """One JSON-RPC 1.0 call, as a wallet talks to its node."""
    body = json.dumps({"jsonrpc": "1.0", "id": "wallet", "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "text/plain"})
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as error:
        reply = json.loads(error.read() or b"{}")
    if reply.get("error"):
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


# --- a user's own wallet ------------------------------------------------------------------------


@dataclass(frozen=True)
class WalletKey:
    key: CKey

    @property
    def script(self) -> bytes:
        return bytes(CScript([OP_0, Hash160(self.key.pub)]))

    @property
    def address(self) -> str:
        return str(P2WPKHBitcoinAddress.from_scriptPubKey(CScript(self.script)))


class UserWallet:
    """A single-sig P2WPKH wallet (BIP-143 signatures by python-bitcoinlib), keys from a name."""

    def __init__(self, name: str) -> None:
        self.name = name

    def key(self, index: int) -> WalletKey:
        secret = hashlib.sha256(f"{self.name} wallet key {index}".encode()).digest()
        return WalletKey(CKey(secret, compressed=True))

    def pay(
        self, *, coin: tuple[str, int, int], spender: WalletKey, to: bytes, amount: int, fee: int
    ) -> CTransaction:
        """Spend `coin` (txid, vout, value) held by `spender`: `amount` to script `to`, change back."""
        txid, vout, value = coin
        outputs = [CTxOut(amount, CScript(to)), CTxOut(value - amount - fee, CScript(spender.script))]
        tx = CMutableTransaction([CTxIn(COutPoint(lx(txid), vout), nSequence=0xFFFFFFFD)], outputs, 0, 2)
        script_code = CScript([OP_DUP, OP_HASH160, Hash160(spender.key.pub), OP_EQUALVERIFY, OP_CHECKSIG])
        digest = SignatureHash(
            script_code, tx, 0, SIGHASH_ALL, amount=value, sigversion=SIGVERSION_WITNESS_V0
        )
        signature = spender.key.sign(digest) + bytes([SIGHASH_ALL])
        tx.wit = CTxWitness([CTxInWitness(CScriptWitness([signature, spender.key.pub]))])
        return CTransaction.from_tx(tx)


def fund(node: MiningNode, key: WalletKey, value: int, tag: int) -> tuple[str, int, int]:
    """A block from elsewhere pays the wallet `value`; returns the coin (txid, vout, value)."""
    coin = funding_tx([(key.script, value)], tag=tag)
    node.mine([coin])
    return b2lx(coin.GetTxid()), 0, value


# --- the running system -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(extra: dict[str, str]) -> dict[str, str]:
    """What the web server, the worker and beat run with: the test database and the real broker."""
    return {
        **os.environ,
        "DATABASE_URL": database_url_for_tests(),
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **extra,
    }


def system_env(*, mail_dir: Path, site_url: str) -> dict[str, str]:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
        "DESTINATION_COOLING_OFF_HOURS": "0",
        "SIGNER_MNEMONIC": settings.SIGNER_MNEMONIC,
        "BITCOIN_NETWORK": "bitcoin",
        "RPC_URL_BITCOIN": "",  # empty: the processes use the Network row's rpc_url
        "RECOVERY_FAILPOINTS": "",
        "SITE_URL": site_url,
    }


class WebServer:
    def __init__(self, process: subprocess.Popen, url: str, log_path: Path) -> None:
        self.process, self.url, self.log_path = process, url, log_path

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


@contextmanager
def web_server(*, log_path: Path, env: dict[str, str], port: int) -> Iterator[WebServer]:
    """`manage.py runserver --noreload` on 127.0.0.1:<port>, as the supervisor runs it."""
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=process_env(env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        if not wait_for(
            lambda: process.poll() is None and answers(f"{url}/login/"), timeout=60, interval=0.3
        ):
            raise AssertionError(f"the web server did not answer on {url}:\n{log_path.read_text()[-3000:]}")
        yield WebServer(process, url, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def purge_queues() -> None:
    """Drop messages an earlier run left on the test vhost's queues (they name rows that no longer exist)."""
    from kombu import Connection

    with Connection(BROKER_URL, connect_timeout=5) as connection:
        channel = connection.default_channel
        for queue in settings.CELERY_TASK_QUEUES:
            bound = queue(channel)
            bound.declare()
            bound.purge()


def tail(text: str, lines: int = 40, *, only: tuple[str, ...] = ()) -> str:
    rows = text.splitlines()
    if only:
        rows = [row for row in rows if any(word in row for word in only)]
    return "\n".join(rows[-lines:])


# --- a person's inbox and authenticator -----------------------------------------------------------


def inbox(mail_dir: Path, address: str) -> list[email.message.Message]:
    """The messages the file-based backend wrote for `address`, oldest first."""
    found = []
    for path in sorted(mail_dir.glob("*.log"), key=lambda p: (p.stat().st_mtime, p.name)):
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk.lstrip(b"\r\n"))
            if address in (message.get("To") or ""):
                found.append(message)
    return found


def body_of(message: email.message.Message) -> str:
    if message.is_multipart():
        return "\n".join(body_of(part) for part in message.get_payload())
    payload = message.get_payload(decode=True) or b""
    return payload.decode(message.get_content_charset() or "utf-8", errors="replace")


def emailed_code(mail_dir: Path, address: str, *, after: int) -> str | None:
    """The confirmation code of the newest message past the first `after` ones, if one came."""
    for message in reversed(inbox(mail_dir, address)[after:]):
        found = re.search(r"Your confirmation code is (\d{6})", body_of(message))
        if found:
            return found.group(1)
    return None


def totp_code(key_hex: str) -> str:
    """What an authenticator app shows for the secret (django-otp's TOTP, not the code under test)."""
    totp = TOTP(bytes.fromhex(key_hex), step=30, t0=0, digits=6, drift=0)
    return f"{totp.token():06d}"


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture
def chromium(monkeypatch) -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (headless)."""
    if shutil.which(CHROMIUM) is None:
        missing(f"the journey needs {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the journey needs the playwright pip package")
    # Playwright's sync API runs an event loop in this thread; the few ORM reads the test makes for its
    # failure messages are plain synchronous calls between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            from django.db import connections

            connections.close_all()


# --- the exchange and the running system, as fixtures ---------------------------------------------

BTC_MIN_DEPOSIT = 10_000  # sats: the exchange's listed minimum (recovery/fixtures/networks.json)
BTC_USD_MICROS = 60_000 * 10**6  # $60,000 a bitcoin
DEPOSIT_INDEX = 21  # alice's Bitcoin deposit address: m/84'/0'/0'/0/21 of the exchange's seed
APPROVER_SECRET = b"journey-approver-01!".hex()  # approver1's authenticator secret (20 bytes)


@dataclass
class Exchange:
    network: Any
    users: Any
    deposit_address: str
    deposit_script: bytes


@pytest.fixture
def btc_exchange(transactional_db, btc_node: MiningNode) -> Exchange:
    """Seeded as an operator would: the Bitcoin network on the node (scanning from the next block), BTC
    listed with its minimum and a price, staff and users, alice's deposit address, approver1's
    authenticator."""
    from chains.bitcoin.signer import BitcoinHdSigner
    from recovery.models import AssetPrice, DepositAddress, ListedAsset, Network
    from recovery.staff.otp import staff_otp_enrol
    from tests.factories import make_staff_and_users

    network = Network.objects.create(
        slug="bitcoin",
        name="Bitcoin",
        family="bitcoin",
        confirmations=3,
        native_symbol="BTC",
        native_decimals=8,
        deposits_enabled=True,
        scan_enabled=True,
        rpc_url=btc_node.rpc_url,
        explorer_tx_url="https://mempool.space/tx/{txid}",
        options={"scan_batch": 10, "start_block": btc_node.tip_height + 1},
    )
    ListedAsset.objects.create(
        network=network, symbol="BTC", contract="", decimals=8, min_deposit=BTC_MIN_DEPOSIT
    )
    AssetPrice.objects.create(
        network=network, contract="", symbol="BTC", decimals=8, usd_micros_per_unit=BTC_USD_MICROS
    )
    users = make_staff_and_users()
    # The test process hashes with MD5 for speed; the web server checks with the default hashers.
    with override_settings(PASSWORD_HASHERS=global_settings.PASSWORD_HASHERS):
        for person in (users.alice, users.agent, users.approver1):
            person.set_password(PASSWORD)
            person.save(update_fields=["password"])
    staff_otp_enrol(user=users.approver1, secret_hex=APPROVER_SECRET, enrolled_by="journey seed")
    signer = BitcoinHdSigner(settings.SIGNER_MNEMONIC, "bitcoin")
    address = signer.address(DEPOSIT_INDEX)
    DepositAddress.objects.create(
        family="bitcoin", address=address, owner_ref="ACC-alice", derivation_index=DEPOSIT_INDEX
    )
    return Exchange(network, users, address, signer.script("deposit", DEPOSIT_INDEX))


@dataclass
class RunningSystem:
    url: str
    mail_dir: Path
    web: WebServer
    worker: Any
    beat: Any

    def logs(self, lines: int = 40) -> str:
        words = ("ERROR", "Traceback", "Error", "WARNING", "refund", "needs review")
        return (
            f"--- worker ---\n{tail(self.worker.log, lines, only=words)}\n"
            f"--- web ---\n{tail(self.web.log, lines // 2, only=words)}"
        )


@pytest.fixture
def running_system(btc_exchange: Exchange, tmp_path: Path) -> Iterator[RunningSystem]:
    """The web server, one worker on every queue and beat, on the test database and the real broker."""
    if connection.vendor != "postgresql":
        missing("the journey runs the processes on the PostgreSQL test database: set DATABASE_URL")
    require_service(BROKER_URL)
    purge_queues()
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    port = free_port()
    env = system_env(mail_dir=mail_dir, site_url=f"http://127.0.0.1:{port}")
    with (
        web_server(log_path=tmp_path / "web.log", env=env, port=port) as web,
        celery_worker(
            queues="scan,verify,refunds,notify",
            log_path=tmp_path / "worker.log",
            concurrency=2,
            env=env,
            name="btc-journey",
        ) as worker,
        celery_beat(
            log_path=tmp_path / "beat.log", schedule_path=tmp_path / "beat-schedule", env=env
        ) as beat,
    ):
        yield RunningSystem(web.url, mail_dir, web, worker, beat)
