"""The battery's workload: deposit addresses with 1-10 wrong deposits each, of every token kind.

Each kind says what should become of its deposits: `paid` (auto-returned to the sender once), `review` (a
refund that must end in needs_review with a reason: the token refuses the return or pretends to pay) or
`none` (no refund: spam, dust, a value above the auto-return limit goes to staff).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

TOKENS = 10**18


@dataclass(frozen=True)
class Kind:
    name: str
    contract: str  # the deployment that carries it ("" for the native coin)
    outcome: str  # paid | review | none
    weight: int


KINDS = (
    Kind("erc20", "TestToken", "paid", 14),
    Kind("no_return", "NoReturnToken", "paid", 10),
    Kind("fee_on_transfer", "FeeToken", "paid", 8),
    Kind("legacy", "LegacyToken", "paid", 6),
    Kind("erc721", "TestNFT", "paid", 8),
    Kind("erc1155", "TestMultiToken", "paid", 8),
    Kind("erc1155_batch", "TestMultiToken", "paid", 4),  # two deposits from one TransferBatch log
    Kind("native", "", "paid", 10),
    Kind("blacklisted", "BlacklistToken", "review", 2),  # the sender is listed after sending: return reverts
    Kind("false_return", "FalseReturnToken", "review", 2),  # transfer() returns false: nothing moves
    Kind("huge", "HugeToken", "none", 2),  # 2**250 base units: above any limit, staff decide
    Kind("spam", "SpamToken", "none", 3),
    Kind("dust", "TestToken", "none", 3),
)
BY_NAME = {kind.name: kind for kind in KINDS}
FUNGIBLE = ("TestToken", "NoReturnToken", "FeeToken", "LegacyToken", "BlacklistToken", "FalseReturnToken")


@dataclass
class Planned:
    """One wrong deposit to make: which address gets which kind from whom, and its exact amounts."""

    kind: Kind
    address: str
    sender: str
    token_ids: tuple[int, ...] = ()
    amounts: tuple[int, ...] = ()
    contract_address: str = ""  # lower-case, set when sent ("" for the native coin)
    txid: str = ""  # "" until sent (or if the node would not take it)

    @property
    def refunds(self) -> int:
        """The refunds this deposit should produce (a batch is one deposit per id)."""
        return 0 if self.kind.outcome == "none" else max(1, len(self.token_ids))


@dataclass
class Workload:
    deposits: list[Planned]
    addresses: list[str]
    senders: list[str]
    nft_ids: list[tuple[str, str, int, int]] = field(default_factory=list)  # (contract, sender, id, amount)

    @property
    def refunds_expected(self) -> int:
        return sum(p.refunds for p in self.deposits)


def workload_plan(rng: random.Random, *, refunds: int, addresses: list[str], senders: list[str]) -> Workload:
    """Give addresses 1-10 deposits each, in turn, until the planned refunds reach `refunds` and every
    address has been used; the deposits are then shuffled so they arrive interleaved."""
    kinds, weights = list(KINDS), [k.weight for k in KINDS]
    plan: list[Planned] = []
    used = 0
    next_id = 1
    while sum(p.refunds for p in plan) < refunds or used < len(addresses):
        address = addresses[used % len(addresses)]
        used += 1
        for _ in range(rng.randint(1, 10)):
            kind = rng.choices(kinds, weights)[0]
            planned = Planned(kind, address, rng.choice(senders))
            next_id = _amounts_choose(rng, planned, next_id)
            plan.append(planned)
    rng.shuffle(plan)
    nft_ids = [
        (p.kind.contract, p.sender, token_id, amount)
        for p in plan
        if p.kind.name.startswith("erc721") or p.kind.name.startswith("erc1155")
        for token_id, amount in zip(p.token_ids, p.amounts, strict=True)
    ]
    return Workload(plan, addresses[: min(used, len(addresses))], senders, nft_ids)


def _amounts_choose(rng: random.Random, p: Planned, next_id: int) -> int:
    """Distinct amounts (a random wei tail), so two deposits of one token by one sender stay apart."""
    name = p.kind.name
    salt = rng.randrange(1, 10**9)
    if name == "erc721":
        p.token_ids, p.amounts = (next_id,), (1,)
        return next_id + 1
    if name == "erc1155":
        p.token_ids, p.amounts = (next_id,), (rng.randint(1, 5),)
        return next_id + 1
    if name == "erc1155_batch":
        p.token_ids, p.amounts = (next_id, next_id + 1), (rng.randint(1, 5), rng.randint(1, 5))
        return next_id + 2
    if name == "native":
        p.amounts = (rng.randint(2, 10) * 10**16 + salt,)  # 0.02-0.1 ETH
    elif name == "huge":
        p.amounts = (2**250 + salt,)
    elif name == "dust":
        p.amounts = (10**12 + salt,)  # a millionth of a token
    else:
        p.amounts = (rng.randint(50, 200) * TOKENS + salt,)  # $50-$200 at $1
    return next_id
