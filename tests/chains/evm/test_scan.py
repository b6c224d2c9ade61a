"""EvmChain.scan against a real anvil node: every standard, only watched recipients, reverts, bad logs."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_utils import keccak, to_checksum_address

from chains.base import NATIVE_TX_INDEX, RangeTooLarge, ScanResult, Standard, Transfer, TransientChainError
from chains.evm.chain import EvmChain
from chains.evm.devnet import Anvil, DeployedContract
from chains.evm.rpc import JsonRpc, RpcError
from chains.scan import scan_range_end, scan_shrinking, scan_stage
from chains.watchset import AddressSet
from tests.fixtures_anvil import FEE_TOKEN_BPS

pytestmark = [pytest.mark.anvil, pytest.mark.timeout(60)]

Contracts = dict[str, DeployedContract]


def deposit_address(label: str) -> str:
    return to_checksum_address(keccak(text=f"deposit {label}")[12:])


WATCHED = [deposit_address(str(i)) for i in range(5)]
UNWATCHED = deposit_address("stranger")


@pytest.fixture
def watched() -> AddressSet:
    return AddressSet(WATCHED)


def scan_new_blocks(chain: EvmChain, since: int, watched: object) -> tuple[Transfer, ...]:
    result = chain.scan(since + 1, chain.head(), watched)  # type: ignore[arg-type]
    return result.transfers


def log_index(anvil: Anvil, txid: str, position: int = 0) -> int:
    return int(anvil.wait_receipt(txid)["logs"][position]["logIndex"], 16)


def test_erc20_transfer_to_watched_address_is_found_with_its_fields(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, token = evm_snapshot, evm_contracts["TestToken"]
    sender = anvil.accounts[1]
    anvil.transact(token, "mint", sender, 10**18)
    start = anvil.head()
    txid = anvil.transact(token, "transfer", WATCHED[0], 12345, sender=sender)
    receipt = anvil.wait_receipt(txid)

    (found,) = scan_new_blocks(evm_chain, start, watched)

    assert (found.txid, found.standard, found.amount) == (txid, Standard.ERC20, 12345)
    assert (found.sender, found.recipient, found.contract) == (sender, WATCHED[0], token.address)
    assert found.index == int(receipt["logs"][0]["logIndex"], 16) and found.token_id is None
    assert (found.block_number, found.block_hash) == (int(receipt["blockNumber"], 16), receipt["blockHash"])
    assert found.network == "anvil"


def test_only_watched_recipients_are_matched(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, token = evm_snapshot, evm_contracts["TestToken"]
    start = anvil.head()
    anvil.transact(token, "mint", UNWATCHED, 5)
    anvil.transact(token, "mint", WATCHED[1], 6)
    anvil.transact(token, "mint", anvil.accounts[3], 7)

    found = scan_new_blocks(evm_chain, start, watched)

    assert [(t.recipient, t.amount) for t in found] == [(WATCHED[1], 6)]


def test_plain_set_of_checksummed_addresses_works_as_watched(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil, start = evm_snapshot, evm_snapshot.head()
    anvil.transact(evm_contracts["TestToken"], "mint", WATCHED[2], 9)
    anvil.transact(evm_contracts["TestToken"], "mint", UNWATCHED, 9)

    found = scan_new_blocks(evm_chain, start, {WATCHED[2]})

    assert [t.recipient for t in found] == [WATCHED[2]]


def test_no_return_token_transfer_is_found(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, token = evm_snapshot, evm_contracts["NoReturnToken"]
    sender = anvil.accounts[1]
    anvil.transact(token, "mint", sender, 1000)
    start = anvil.head()
    anvil.transact(token, "transfer", WATCHED[0], 400, sender=sender)

    (found,) = scan_new_blocks(evm_chain, start, watched)

    assert (found.standard, found.amount, found.contract) == (Standard.ERC20, 400, token.address)


def test_fee_on_transfer_token_reports_the_amount_received(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, token = evm_snapshot, evm_contracts["FeeToken"]
    sender = anvil.accounts[1]
    anvil.transact(token, "mint", sender, 50_000)
    start = anvil.head()
    anvil.transact(token, "transfer", WATCHED[0], 50_000, sender=sender)

    (found,) = scan_new_blocks(evm_chain, start, watched)

    received = anvil.call(token, "balanceOf", WATCHED[0])
    assert received == 50_000 * (10_000 - FEE_TOKEN_BPS) // 10_000
    assert found.amount == received


def test_erc721_safe_transfer_is_found_with_token_id(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, nft = evm_snapshot, evm_contracts["TestNFT"]
    owner = anvil.accounts[1]
    anvil.transact(nft, "mint", owner, 77)
    start = anvil.head()
    anvil.transact(nft, "safeTransferFrom", owner, WATCHED[3], 77, sender=owner)

    (found,) = scan_new_blocks(evm_chain, start, watched)

    assert (found.standard, found.token_id, found.amount) == (Standard.ERC721, 77, 1)
    assert (found.sender, found.recipient, found.contract) == (owner, WATCHED[3], nft.address)


def test_erc1155_single_and_batch_transfers_are_found_item_by_item(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, multi = evm_snapshot, evm_contracts["TestMultiToken"]
    owner = anvil.accounts[1]
    anvil.transact(multi, "mintBatch", owner, [1, 2, 3], [100, 200, 300])
    start = anvil.head()
    single = anvil.transact(multi, "safeTransferFrom", owner, WATCHED[0], 2, 50, b"", sender=owner)
    batch = anvil.transact(
        multi, "safeBatchTransferFrom", owner, WATCHED[1], [1, 3], [10, 30], b"", sender=owner
    )

    found = scan_new_blocks(evm_chain, start, watched)

    got = sorted((t.txid, t.recipient, t.token_id, t.amount, t.sub_index, t.index) for t in found)
    expected = sorted(
        [
            (single, WATCHED[0], 2, 50, 0, log_index(anvil, single)),
            (batch, WATCHED[1], 1, 10, 0, log_index(anvil, batch)),
            (batch, WATCHED[1], 3, 30, 1, log_index(anvil, batch)),
        ]
    )
    assert got == expected
    assert {t.standard for t in found} == {Standard.ERC1155}
    assert {t.sender for t in found} == {owner}


def test_native_coin_sent_directly_is_found(
    evm_snapshot: Anvil, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, start = evm_snapshot, evm_snapshot.head()
    txid = anvil.send({"from": anvil.accounts[2], "to": WATCHED[4], "value": 3 * 10**17})
    anvil.send({"from": anvil.accounts[2], "to": UNWATCHED, "value": 10**17})

    (found,) = scan_new_blocks(evm_chain, start, watched)

    assert (found.txid, found.standard, found.amount, found.index) == (txid, Standard.NATIVE, 3 * 10**17, -1)
    assert (found.sender, found.recipient, found.contract) == (anvil.accounts[2], WATCHED[4], None)


def test_native_coin_through_an_internal_call_is_found(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, forwarder = evm_snapshot, evm_contracts["Forwarder"]
    start = anvil.head()
    txid = anvil.transact(forwarder, "split", [WATCHED[0], UNWATCHED, WATCHED[1]], value=3000)

    found = scan_new_blocks(evm_chain, start, watched)

    # Positions in the tx's trace list: 0 is the call to split(), then the three internal calls in order.
    assert sorted((t.recipient, t.amount, t.index) for t in found) == sorted(
        [(WATCHED[0], 1000, NATIVE_TX_INDEX - 1 - 1), (WATCHED[1], 1000, NATIVE_TX_INDEX - 1 - 3)]
    )
    assert {(t.txid, t.sender, t.standard) for t in found} == {(txid, forwarder.address, Standard.NATIVE)}
    assert anvil.balance(WATCHED[0]) == 1000


def test_internal_transfers_are_ignored_when_traces_are_off(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, start = evm_snapshot, evm_snapshot.head()
    anvil.transact(evm_contracts["Forwarder"], "forward", WATCHED[0], value=500)
    no_traces = EvmChain(evm_chain.config.replace(traces=False), rpc=anvil.rpc)

    assert scan_new_blocks(no_traces, start, watched) == ()
    assert len(scan_new_blocks(evm_chain, start, watched)) == 1


def test_reverted_transactions_are_not_deposits(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain
) -> None:
    anvil = evm_snapshot
    rejecting = evm_contracts["TestToken"].address  # no payable fallback: any value sent to it reverts
    eoa = WATCHED[0]
    watched = AddressSet([eoa, rejecting])
    anvil.transact(evm_contracts["RevertingToken"], "mint", anvil.accounts[1], 10)
    start = anvil.head()
    reverted = [
        anvil.send({"from": anvil.accounts[1], "to": rejecting, "value": 10**15, "gas": 100_000}),
        anvil.transact(
            evm_contracts["RevertingToken"], "transfer", eoa, 5, sender=anvil.accounts[1], gas=200_000
        ),
        # The first internal call succeeds, the second reverts and takes the whole transaction with it.
        anvil.transact(evm_contracts["Forwarder"], "split", [eoa, rejecting], value=2000, gas=300_000),
    ]
    assert [anvil.wait_receipt(txid)["status"] for txid in reverted] == ["0x0"] * 3

    assert scan_new_blocks(evm_chain, start, watched) == ()
    assert anvil.balance(eoa) == 0


def test_malformed_transfer_logs_are_skipped_with_a_reason(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, bad = evm_snapshot, evm_contracts["BadLogEmitter"]
    start = anvil.head()
    anvil.transact(bad, "twoTopics", anvil.accounts[1], 5)
    anvil.transact(bad, "shortData", anvil.accounts[1], WATCHED[0])
    anvil.transact(bad, "shortSingle", anvil.accounts[1], WATCHED[0], 9)
    good = anvil.transact(bad, "badThenGood", anvil.accounts[1], WATCHED[1], 42)

    result = evm_chain.scan(start + 1, anvil.head(), watched)

    assert [(t.txid, t.recipient, t.amount) for t in result.transfers] == [(good, WATCHED[1], 42)]
    assert len(result.skipped) == 4
    reasons = " | ".join(result.skipped)
    assert "2 topics" in reasons and "16 data bytes" in reasons and "TransferSingle" in reasons


def test_an_unindexed_transfer_to_a_watched_address_is_kept_raw_until_its_contract_is_known(
    evm_snapshot: Anvil, evm_contracts: Contracts, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil, legacy = evm_snapshot, evm_contracts["LegacyToken"]
    start = anvil.head()
    sent = anvil.transact(legacy, "mint", WATCHED[2], 7 * 10**18)
    anvil.transact(legacy, "mint", UNWATCHED, 5)  # names nobody we watch: skipped, not kept

    unknown = evm_chain.scan(start + 1, anvil.head(), watched)
    known = EvmChain(
        evm_chain.config.replace(unindexed_transfer_tokens=frozenset({legacy.address})), rpc=anvil.rpc
    ).scan(start + 1, anvil.head(), watched)

    assert unknown.transfers == ()
    [(unread)] = unknown.unread
    assert (unread.txid, unread.contract, unread.mentions) == (sent, legacy.address, (WATCHED[2].lower(),))
    assert "1 topics" in unread.reason and len(unread.topics) == 1
    assert [(t.txid, t.recipient, t.amount, t.standard) for t in known.transfers] == [
        (sent, WATCHED[2], 7 * 10**18, Standard.ERC20)
    ]
    assert known.unread == ()


def test_scan_returns_a_block_ref_for_every_block_in_the_range(
    evm_snapshot: Anvil, evm_chain: EvmChain, watched: AddressSet
) -> None:
    anvil = evm_snapshot
    anvil.mine(30)  # more than one JSON-RPC batch of blocks
    head = anvil.head()

    result = evm_chain.scan(head - 29, head, watched)

    assert [b.number for b in result.blocks] == list(range(head - 29, head + 1))
    for parent, child in zip(result.blocks, result.blocks[1:], strict=False):
        assert child.parent_hash == parent.hash
    assert result.blocks[-1] == evm_chain.block_ref(head)
    assert (result.first, result.last) == (head - 29, head)


# --- ranges and the transport (no node needed) ----------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "head", "confirmations", "batch", "expected"),
    [(100, 1000, 12, 50, 150), (100, 120, 12, 50, 108), (100, 105, 12, 50, 93), (0, 0, 0, 10, 0)],
)
def test_scan_range_end_is_the_confirmed_head_or_one_batch(
    cursor: int, head: int, confirmations: int, batch: int, expected: int
) -> None:
    assert scan_range_end(cursor, head, confirmations, batch) == expected


class RangeLimitedChain:
    """Refuses ranges wider than `limit` blocks, as providers do; records what it was asked."""

    confirmations = 2

    def __init__(self, limit: int) -> None:
        self.limit, self.asked = limit, []

    def head(self) -> int:
        return 1000

    def scan(self, first: int, last: int, watched: object) -> ScanResult:
        self.asked.append((first, last))
        if last - first + 1 > self.limit:
            raise RangeTooLarge("query returned more than 10000 results")
        return ScanResult(first, last, (), ())


def test_range_is_halved_until_the_node_accepts_it() -> None:
    chain = RangeLimitedChain(limit=30)
    result = scan_shrinking(chain, 101, 200, set())  # type: ignore[arg-type]
    assert chain.asked == [(101, 200), (101, 150), (101, 125)]
    assert (result.first, result.last) == (101, 125)


def test_range_that_fails_at_one_block_raises() -> None:
    with pytest.raises(RangeTooLarge):
        scan_shrinking(RangeLimitedChain(limit=0), 5, 8, set())  # type: ignore[arg-type]


def test_scan_stage_records_then_advances_the_cursor() -> None:
    chain, recorded = RangeLimitedChain(limit=1000), []
    assert scan_stage(chain, set(), 900, recorded.append, batch=50) == 950  # type: ignore[arg-type]
    assert scan_stage(chain, set(), 990, recorded.append, batch=50) == 998  # head 1000 - 2 confirmations
    assert scan_stage(chain, set(), 998, recorded.append, batch=50) == 998  # nothing confirmed yet
    assert [(r.first, r.last) for r in recorded] == [(901, 950), (991, 998)]


@pytest.fixture
def http_node() -> Iterator[Callable[[int, bytes], str]]:
    """A tiny real HTTP server answering every POST with a chosen status and body."""
    reply: dict[str, object] = {"status": 200, "body": b"{}"}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = reply["body"]
            self.send_response(reply["status"])  # type: ignore[arg-type]
            self.send_header("Content-Length", str(len(body)))  # type: ignore[arg-type]
            self.end_headers()
            self.wfile.write(body)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def answer(status: int, body: bytes) -> str:
        reply.update(status=status, body=body)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield answer
    server.shutdown()


def error_body(message: str, code: int = -32000) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    "message",
    [
        "query returned more than 10000 results",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        "block range too large",
        "limit exceeded",
        "too many results",
    ],
)
def test_provider_range_complaints_become_range_too_large(
    http_node: Callable[[int, bytes], str], message: str
) -> None:
    with pytest.raises(RangeTooLarge):
        JsonRpc(http_node(200, error_body(message))).call("eth_getLogs", [{}])


@pytest.mark.parametrize(
    ("status", "body"), [(503, b"busy"), (502, b""), (429, b"slow down"), (200, b"not json")]
)
def test_overloaded_or_broken_answers_are_transient(
    http_node: Callable[[int, bytes], str], status: int, body: bytes
) -> None:
    with pytest.raises(TransientChainError) as caught:
        JsonRpc(http_node(status, body)).call("eth_blockNumber")
    assert not isinstance(caught.value, RangeTooLarge)


def test_rate_limit_error_object_is_transient(http_node: Callable[[int, bytes], str]) -> None:
    with pytest.raises(TransientChainError):
        JsonRpc(http_node(200, error_body("rate limit exceeded: too many requests", 429))).call("eth_chainId")


def test_execution_revert_is_a_plain_rpc_error(http_node: Callable[[int, bytes], str]) -> None:
    with pytest.raises(RpcError) as caught:
        JsonRpc(http_node(200, error_body("execution reverted", 3))).call("eth_call")
    assert not isinstance(caught.value, TransientChainError) and caught.value.code == 3


def test_unreachable_node_is_transient() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: the connection is refused
        with pytest.raises(TransientChainError):
            JsonRpc(f"http://127.0.0.1:{port}", timeout=1.0).call("eth_blockNumber")


def test_batch_returns_results_in_call_order(anvil: Anvil) -> None:
    results = anvil.rpc.batch([("eth_chainId", []), ("eth_blockNumber", []), ("net_version", [])])
    assert results[0] == hex(31337) and results[2] == "31337"
