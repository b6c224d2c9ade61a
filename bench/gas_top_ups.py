"""Benchmark: what a gas top-up costs, one plain transfer per address against one disperse batch, on anvil.

Run: .venv/bin/python bench/gas_top_ups.py [--sizes 10,50,100]

For each batch size N it funds N fresh addresses four ways and prints the gas used per address and the
gas-wallet transactions: plain transfers and one `disperseEther` batch, each to addresses that already exist
(hold dust from an earlier sweep) and to empty ones (EIP-161). This is the measurement behind the rule in
recovery/payouts/gas_top_ups.py: batch only the addresses that exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chains.evm.devnet import Anvil, deploy_contract
from chains.evm.refund import gas_top_up_batch

TOP_UP_WEI = 10**15
DUST_WEI = 10**9


def gas_used(node: Anvil, txid: str) -> int:
    return int(node.wait_receipt(txid)["gasUsed"], 16)


def fresh_addresses(start: int, count: int) -> list[str]:
    return [f"0x{0xB0B0 << 140 | (start + n):040x}" for n in range(count)]


def plain(node: Anvil, wallet: str, addresses: list[str]) -> tuple[int, int]:
    txids = [node.send({"from": wallet, "to": a, "value": TOP_UP_WEI}, wait=False) for a in addresses]
    node.mine(1)
    return sum(gas_used(node, txid) for txid in txids), len(txids)


def batched(node: Anvil, wallet: str, disperse: str, addresses: list[str]) -> tuple[int, int]:
    call = gas_top_up_batch(disperse, [(a, TOP_UP_WEI) for a in addresses])
    tx = {"from": wallet, "to": call.to, "value": call.value, "data": "0x" + call.data.hex()}
    txid = node.send(tx, wait=False)
    node.mine(1)
    return gas_used(node, txid), 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,50,100")
    sizes = [int(n) for n in parser.parse_args().sizes.split(",")]
    with Anvil(chain_id=31337) as node:
        node.set_automine(False)
        disperse = deploy_disperse(node)
        wallet = node.accounts[0]
        node.set_balance(wallet, 10**24)
        next_address = 0
        print(f"{'addresses':>9}  {'kind':<8} {'mode':<9} {'gas/address':>11}  {'wallet txs':>10}")
        for size in sizes:
            for kind in ("existing", "empty"):
                for mode in ("plain", "disperse"):
                    addresses = fresh_addresses(next_address, size)
                    next_address += size
                    if kind == "existing":
                        for address in addresses:
                            node.set_balance(address, DUST_WEI)
                    if mode == "plain":
                        gas, txs = plain(node, wallet, addresses)
                    else:
                        gas, txs = batched(node, wallet, disperse, addresses)
                    print(f"{size:>9}  {kind:<8} {mode:<9} {gas / size:>11,.0f}  {txs:>10}")


def deploy_disperse(node: Anvil) -> str:
    node.set_automine(True)
    try:
        return deploy_contract(node, "GasDisperse").address
    finally:
        node.set_automine(False)


if __name__ == "__main__":
    main()
