"""Several refunds from one deposit address are planned together: each counts the gas the others may still
spend from the same balance, so none is signed against money another will use."""

from __future__ import annotations

import collections

import pytest

from recovery.deposits.scanning import network_scan
from recovery.models import Deposit, Refund, RefundState
from recovery.payouts.refunds import refund_advance, refund_queue
from tests.fixtures_anvil import FEE_TOKEN_BPS
from tests.payout_env import CONFIRMATIONS, deposit_of, fees_jump
from tests.payouts.test_refunds_evm import approved_case

pytestmark = [pytest.mark.anvil, pytest.mark.django_db]


def advance_until(payout, refund: Refund, state: RefundState, steps: int = 20) -> Refund:
    for _ in range(steps):
        refund.refresh_from_db()
        if refund.state != RefundState.QUEUED:
            break
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)
    refund.refresh_from_db()
    assert refund.state == state, refund.last_error
    return refund


def test_a_second_refund_is_funded_for_itself_not_with_the_first_ones_gas(payout):
    deposits = [deposit_of(payout, "NoReturnToken"), deposit_of(payout, "TestToken")]
    first, second = (refund_queue(case_id=approved_case(payout, d).pk) for d in deposits)

    advance_until(payout, first, RefundState.SIGNED)  # signed, its gas not yet spent
    advance_until(payout, second, RefundState.SIGNED)

    for _ in range(40):
        if all(Refund.objects.get(pk=r.pk).state == RefundState.CONFIRMED for r in (first, second)):
            break
        for refund in (first, second):
            refund_advance(refund_id=refund.pk)
        payout.node.mine(1)

    states = [Refund.objects.get(pk=r.pk) for r in (first, second)]
    assert [(r.state, r.last_error) for r in states] == [(RefundState.CONFIRMED, "")] * 2
    assert sorted(r.nonce for r in states) == [0, 1]
    assert payout.nonce(payout.deposit_address) == 2  # both mined, no gap, nothing refused
    assert all(r.top_ups.get().amount > 0 for r in states)  # each paid for by a top-up of its own


def test_the_refunds_of_an_address_go_out_in_nonce_order(payout):
    deposits = [deposit_of(payout, "NoReturnToken"), deposit_of(payout, "TestToken")]
    first, second = (refund_queue(case_id=approved_case(payout, d).pk) for d in deposits)
    first, second = (
        advance_until(payout, first, RefundState.SIGNED),
        advance_until(payout, second, RefundState.SIGNED),
    )
    earlier, later = sorted((first, second), key=lambda r: r.nonce)

    refund_advance(refund_id=later.pk)  # its turn has not come: nothing is sent

    later.refresh_from_db()
    assert later.state == RefundState.SIGNED and payout.nonce(payout.deposit_address) == 0
    refund_advance(refund_id=earlier.pk)
    refund_advance(refund_id=later.pk)
    assert [Refund.objects.get(pk=r.pk).state for r in (earlier, later)] == [RefundState.BROADCAST] * 2


def test_a_refusal_for_funds_is_not_final_the_address_is_funded_and_the_same_bytes_sent(payout):
    refund = refund_queue(case_id=approved_case(payout, deposit_of(payout, "NoReturnToken")).pk)
    refund = advance_until(payout, refund, RefundState.SIGNED)
    signed_bytes, signed_hash = refund.raw_tx, refund.tx_hash
    payout.node.set_balance(payout.deposit_address, 0)  # drained between signing and sending

    refund_advance(refund_id=refund.pk)  # the node refuses it for funds; another top-up is filed

    refund.refresh_from_db()
    assert refund.state == RefundState.SIGNED and "waiting for funds" in refund.last_error
    for _ in range(20):
        if Refund.objects.get(pk=refund.pk).state == RefundState.CONFIRMED:
            break
        refund_advance(refund_id=refund.pk)
        payout.node.mine(1)
    refund.refresh_from_db()
    assert (refund.state, refund.attempts, refund.raw_tx, refund.tx_hash) == (
        RefundState.CONFIRMED,
        1,
        signed_bytes,
        signed_hash,
    )  # the very bytes signed before the refusal: never re-signed
    assert [t.state for t in refund.top_ups.order_by("pk")] == ["confirmed", "confirmed"]
    assert payout.nonce(payout.deposit_address) == 1


# One to ten wrong deposits of mixed kinds on one address, as users and airdrops send them.
MIXED = ("TestToken", "FeeToken", "TestNFT", "TestMultiToken", "batch", "native", "NoReturnToken")


def mixed_deposits(p, count: int) -> list[Deposit]:
    """`count` deposits to the one address, cycling through the kinds; each NFT its own token id."""
    node, c, user, to = p.node, p.contracts, p.user, p.deposit_address
    txids: list[str] = []
    for n in range(count):
        kind = MIXED[n % len(MIXED)]
        if kind in ("TestToken", "FeeToken", "NoReturnToken"):
            node.transact(c[kind], "mint", user, (n + 1) * 10**18)
            txids.append(node.transact(c[kind], "transfer", to, (n + 1) * 10**18, sender=user))
        elif kind == "TestNFT":
            node.transact(c[kind], "mint", user, 100 + n)
            txids.append(node.transact(c[kind], "safeTransferFrom", user, to, 100 + n, sender=user))
        elif kind == "TestMultiToken":
            node.transact(c[kind], "mint", user, 100 + n, 5)
            txids.append(node.transact(c[kind], "safeTransferFrom", user, to, 100 + n, 5, b"", sender=user))
        elif kind == "batch":  # one ERC-1155 batch: two deposits (one per id) from a single log
            ids, amounts = [200 + n, 300 + n], [3, 4]
            node.transact(c["TestMultiToken"], "mintBatch", user, ids, amounts)
            txids.append(
                node.transact(
                    c["TestMultiToken"], "safeBatchTransferFrom", user, to, ids, amounts, b"", sender=user
                )
            )
        else:
            txids.append(node.send({"from": user, "to": to, "value": (n + 1) * 10**16}))
    node.mine(CONFIRMATIONS)
    network_scan(network_id=p.network.pk)
    return list(Deposit.objects.filter(txid__in=txids).order_by("pk"))


def returned(p, deposit: Deposit) -> int:
    """What the sender holds of the deposit's asset (for the NFT: 1 if it owns the token again)."""
    node, user = p.node, p.user
    contract = next((c for c in p.contracts.values() if c.address.lower() == deposit.contract.lower()), None)
    if deposit.standard == "native":
        return node.balance(user)
    if deposit.standard == "erc721":
        return int(node.call(contract, "ownerOf", deposit.token_id).lower() == user.lower())
    if deposit.standard == "erc1155":
        return node.call(contract, "balanceOf", user, deposit.token_id)
    return node.call(contract, "balanceOf", user)


@pytest.mark.parametrize("count", [1, 3, 7, 10])
def test_mixed_deposits_on_one_address_go_back_once_each_in_nonce_order_while_fees_rise(payout, count):
    deposits = mixed_deposits(payout, count)
    assert len(deposits) == count + count // len(MIXED) + (count % len(MIXED) > MIXED.index("batch"))
    refunds = [refund_queue(case_id=approved_case(payout, d).pk) for d in deposits]
    before = {d.pk: returned(payout, d) for d in deposits}
    for refund in refunds:  # every refund signed (and its gas planned with the others) before any is sent
        advance_until(payout, refund, RefundState.SIGNED)
    fees_jump(payout, 10)  # fees rise tenfold between signing and sending

    for _ in range(60):
        if not Refund.objects.filter(pk__in=[r.pk for r in refunds]).exclude(state="confirmed").exists():
            break
        for refund in refunds:
            refund_advance(refund_id=refund.pk)
        payout.node.mine(1)

    done = list(Refund.objects.filter(pk__in=[r.pk for r in refunds]).order_by("nonce"))
    assert [(r.state, r.last_error) for r in done] == [(RefundState.CONFIRMED, "")] * len(done)
    assert [r.nonce for r in done] == list(range(len(done)))  # gapless, each nonce once
    assert payout.nonce(payout.deposit_address) == len(done)  # every one mined, nothing refused for good
    gained, expected = collections.Counter(), collections.Counter()  # per asset: a sender may send one twice
    for deposit in deposits:
        key = (deposit.contract, deposit.token_id)
        gained[key] = returned(payout, deposit) - before[deposit.pk]
        fee_token = deposit.contract.lower() == payout.contracts["FeeToken"].address.lower()
        # The fee token burns its fee on the way back too; an NFT comes back as itself.
        expected[key] += (
            1
            if deposit.standard == "erc721"
            else deposit.amount - (deposit.amount * FEE_TOKEN_BPS // 10_000 if fee_token else 0)
        )
    native = ("", None)
    if native in expected:  # a native refund pays its own gas out of the amount
        assert 0 < gained.pop(native) < expected.pop(native)
    assert gained == expected
